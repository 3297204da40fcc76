//! Tag editing logic: the optimistic overlay of pending and confirmed changes, the tenant's tag
//! catalog for autocomplete, and the checks shown inline before anything is sent.

use defender_tags_core::inventory::{Inventory, inventory};
use defender_tags_core::model::eq_ignore_case;
use defender_tags_core::{Machine, MachineId, Tag, TagAction};

/// Identifies one change in a [`TagEdits`] overlay.
pub type EditId = u64;

/// Where a change stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditStatus {
    /// Sent, no reply yet: shown as if done, marked as pending.
    Pending,
    /// The API accepted it.
    Confirmed,
}

/// One tag change the user made on one machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    /// Overlay-unique id.
    pub id: EditId,
    /// The machine.
    pub machine: MachineId,
    /// The tag (already validated when adding; removals may carry tags our rules reject).
    pub tag: String,
    /// Add or remove.
    pub action: TagAction,
    /// Pending or confirmed.
    pub status: EditStatus,
}

/// Changes applied on top of the machines as the server last returned them.
///
/// Optimistic updates: a change shows at once ([`EditStatus::Pending`]); a success confirms it,
/// a failure removes it again (the rollback) and the caller shows the error. Applying a change is
/// idempotent (core's [`TagAction::apply`]), so confirmed changes can stay in the overlay after a
/// reload that already contains them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagEdits {
    edits: Vec<Edit>,
    next_id: EditId,
}

impl TagEdits {
    /// Records a change as pending and returns its id.
    pub fn begin(&mut self, machine: MachineId, tag: &str, action: TagAction) -> EditId {
        self.next_id += 1;
        let id = self.next_id;
        self.edits.push(Edit {
            id,
            machine,
            tag: tag.to_owned(),
            action,
            status: EditStatus::Pending,
        });
        id
    }

    /// Marks a change as accepted by the API.
    pub fn confirm(&mut self, id: EditId) {
        if let Some(e) = self.edits.iter_mut().find(|e| e.id == id) {
            e.status = EditStatus::Confirmed;
        }
    }

    /// Rolls a failed change back, returning it (for the error message).
    pub fn roll_back(&mut self, id: EditId) -> Option<Edit> {
        let pos = self.edits.iter().position(|e| e.id == id)?;
        Some(self.edits.remove(pos))
    }

    /// Forgets confirmed changes, once fresh server data includes them.
    pub fn drop_confirmed(&mut self) {
        self.edits.retain(|e| e.status == EditStatus::Pending);
    }

    /// The tags `machine` shows: `server_tags` with every change in the overlay applied in order.
    pub fn effective_tags(&self, machine: &MachineId, server_tags: &[String]) -> Vec<String> {
        let mut tags = server_tags.to_vec();
        for e in self.edits.iter().filter(|e| &e.machine == machine) {
            e.action.apply(&mut tags, &e.tag);
        }
        tags
    }

    /// Whether a change of `tag` on `machine` is still waiting for the API.
    pub fn is_pending(&self, machine: &MachineId, tag: &str) -> bool {
        self.edits
            .iter()
            .any(|e| &e.machine == machine && e.tag == tag && e.status == EditStatus::Pending)
    }

    /// Whether anything is in flight.
    pub fn has_pending(&self) -> bool {
        self.edits.iter().any(|e| e.status == EditStatus::Pending)
    }
}

/// The tags seen in the tenant (in every machine loaded so far), with how many machines carry
/// each, for autocomplete and near-duplicate warnings: core's [`Inventory`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagCatalog(Inventory);

impl TagCatalog {
    /// The tags of `machines`, counted by core's [`inventory`].
    pub fn of<'a>(machines: impl IntoIterator<Item = &'a Machine>) -> Self {
        Self(inventory(machines))
    }

    /// Adds a tag (e.g. one the user just created) so it is offered from now on.
    pub fn insert(&mut self, tag: &str) {
        self.0.add_use(tag);
    }

    /// Number of distinct tags.
    pub fn len(&self) -> usize {
        self.0.tags.len()
    }

    /// Whether no tag is known.
    pub fn is_empty(&self) -> bool {
        self.0.tags.is_empty()
    }

    /// Up to `limit` known tags for what the user typed (see core's `Inventory::suggest`).
    pub fn suggest(&self, input: &str, exclude: &[String], limit: usize) -> Vec<String> {
        self.0
            .suggest(input, exclude, limit)
            .into_iter()
            .map(|t| t.tag.clone())
            .collect()
    }

    /// Machines carrying exactly `tag`.
    pub fn count(&self, tag: &str) -> usize {
        self.0.count(tag)
    }

    /// Tags in use that `tag` is probably a misspelling of (core's `Inventory::closest`).
    pub fn closest(&self, tag: &str, limit: usize) -> Vec<String> {
        self.0
            .closest(tag, limit)
            .into_iter()
            .map(|t| t.tag.clone())
            .collect()
    }

    /// Known tags equal to `tag` ignoring case but spelled differently ("Finance" vs "finance").
    pub fn near_duplicates(&self, tag: &str) -> Vec<String> {
        let mut near: Vec<String> = self
            .0
            .case_variants_of(tag)
            .into_iter()
            .map(|t| t.tag.clone())
            .collect();
        near.sort();
        near
    }
}

/// What the "add tag" box says about its current text, before anything is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagCheck {
    /// The validated tag, or the reason it cannot be sent (shown inline).
    pub result: Result<Tag, String>,
    /// Things worth knowing that do not block sending.
    pub warnings: Vec<String>,
}

impl TagCheck {
    /// Checks `input` as a new tag for a machine that has `current` tags.
    pub fn new(input: &str, current: &[String], catalog: &TagCatalog) -> TagCheck {
        let tag = match Tag::parse(input) {
            Ok(tag) => tag,
            Err(e) => {
                return TagCheck {
                    result: Err(capitalise(&e.to_string())),
                    warnings: Vec::new(),
                };
            }
        };
        if current.iter().any(|t| t == tag.as_str()) {
            return TagCheck {
                result: Err(format!(
                    "This machine already has the tag \u{201c}{tag}\u{201d}."
                )),
                warnings: Vec::new(),
            };
        }
        let mut warnings: Vec<String> = tag
            .warnings()
            .iter()
            .map(|w| capitalise(&w.to_string()))
            .collect();
        let on_machine: Vec<&String> = current
            .iter()
            .filter(|t| eq_ignore_case(t, tag.as_str()))
            .collect();
        if let Some(existing) = on_machine.first() {
            warnings.push(format!(
                "This machine already has \u{201c}{existing}\u{201d}, which differs only in case; \
                 Defender treats them as two tags."
            ));
        } else {
            let near = catalog.near_duplicates(tag.as_str());
            if !near.is_empty() {
                let list = near
                    .iter()
                    .map(|t| format!("\u{201c}{t}\u{201d}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                warnings.push(format!(
                    "The tenant already uses {list}, which differs only in case; \
                     Defender treats them as different tags."
                ));
            }
        }
        TagCheck {
            result: Ok(tag),
            warnings,
        }
    }
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect::<String>() + ".",
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> MachineId {
        MachineId::parse(&format!("{n:040x}")).unwrap()
    }

    fn catalog_of(lists: &[Vec<String>]) -> TagCatalog {
        let machines: Vec<Machine> = lists
            .iter()
            .enumerate()
            .map(|(n, tags)| {
                let mut m = Machine::new(MachineId::parse(&format!("{n:040x}")).unwrap());
                m.machine_tags = tags.clone();
                m
            })
            .collect();
        TagCatalog::of(&machines)
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn optimistic_add_shows_at_once_and_rolls_back_on_failure() {
        let mut edits = TagEdits::default();
        let server = strings(&["a"]);
        let e = edits.begin(id(1), "b", TagAction::Add);
        assert_eq!(edits.effective_tags(&id(1), &server), strings(&["a", "b"]));
        assert!(edits.is_pending(&id(1), "b"));
        // Other machines are untouched.
        assert_eq!(edits.effective_tags(&id(2), &server), strings(&["a"]));
        let rolled = edits.roll_back(e).unwrap();
        assert_eq!(rolled.tag, "b");
        assert_eq!(edits.effective_tags(&id(1), &server), strings(&["a"]));
        assert!(!edits.has_pending());
    }

    #[test]
    fn confirmed_changes_survive_and_are_idempotent_over_fresh_data() {
        let mut edits = TagEdits::default();
        let e = edits.begin(id(1), "a", TagAction::Remove);
        edits.confirm(e);
        assert!(!edits.is_pending(&id(1), "a"));
        // Stale server data still has "a": the overlay hides it.
        assert_eq!(
            edits.effective_tags(&id(1), &strings(&["a", "b"])),
            strings(&["b"])
        );
        // Fresh data without "a": applying again changes nothing.
        assert_eq!(
            edits.effective_tags(&id(1), &strings(&["b"])),
            strings(&["b"])
        );
        edits.drop_confirmed();
        assert_eq!(
            edits,
            TagEdits {
                edits: vec![],
                next_id: 1
            }
        );
    }

    #[test]
    fn rolling_back_an_unknown_edit_is_harmless() {
        let mut edits = TagEdits::default();
        assert!(edits.roll_back(42).is_none());
    }

    #[test]
    fn suggestions_prefer_prefix_then_usage_and_skip_current_tags() {
        let lists = [
            strings(&["Finance", "fin-eu"]),
            strings(&["Finance", "Refinery"]),
            strings(&["Finance"]),
        ];
        let catalog = catalog_of(&lists);
        assert_eq!(
            catalog.suggest("fin", &[], 10),
            strings(&["Finance", "fin-eu", "Refinery"])
        );
        assert_eq!(
            catalog.suggest("FIN", &strings(&["Finance"]), 10),
            strings(&["fin-eu", "Refinery"])
        );
        assert_eq!(catalog.suggest("fin", &[], 1), strings(&["Finance"]));
        assert!(catalog.suggest("zzz", &[], 10).is_empty());
    }

    #[test]
    fn near_duplicates_differ_only_in_case() {
        let lists = [strings(&["Finance", "finance", "Fin"])];
        let catalog = catalog_of(&lists);
        assert_eq!(
            catalog.near_duplicates("FINANCE"),
            strings(&["Finance", "finance"])
        );
        assert_eq!(catalog.near_duplicates("Finance"), strings(&["finance"]));
        assert!(catalog.near_duplicates("Fin").is_empty());
    }

    #[test]
    fn check_shows_core_validation_errors_inline() {
        let catalog = TagCatalog::default();
        let check = TagCheck::new(" padded ", &[], &catalog);
        let err = check.result.unwrap_err();
        assert!(
            err.starts_with("Tag starts or ends with whitespace"),
            "{err}"
        );
        let check = TagCheck::new("", &[], &catalog);
        assert!(check.result.is_err());
        let long = "x".repeat(201);
        let err = TagCheck::new(&long, &[], &catalog).result.unwrap_err();
        assert!(err.contains("201 characters"), "{err}");
    }

    #[test]
    fn check_refuses_a_tag_already_on_the_machine() {
        let err = TagCheck::new("a", &strings(&["a"]), &TagCatalog::default())
            .result
            .unwrap_err();
        assert!(err.contains("already has the tag"), "{err}");
    }

    #[test]
    fn check_warns_about_case_variants_and_portal_breakers() {
        let lists = [strings(&["finance"])];
        let catalog = catalog_of(&lists);
        let check = TagCheck::new("Finance", &[], &catalog);
        assert_eq!(check.result.as_ref().map(|t| t.as_str()), Ok("Finance"));
        assert_eq!(check.warnings.len(), 1);
        assert!(
            check.warnings[0].contains("\u{201c}finance\u{201d}"),
            "{:?}",
            check.warnings
        );

        let check = TagCheck::new("FINANCE", &strings(&["finance"]), &catalog);
        assert!(
            check.warnings[0].contains("This machine already has"),
            "{:?}",
            check.warnings
        );

        let check = TagCheck::new("a(b)", &[], &TagCatalog::default());
        assert!(check.result.is_ok());
        assert!(check.warnings[0].contains("portal"), "{:?}", check.warnings);
    }
}
