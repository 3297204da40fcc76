//! App-wide state, provided as context newtypes (so a component asks for exactly what it needs).

use defender_tags_core::{MachineId, Tag, TagAction};
use leptos::prelude::*;

use crate::access::Access;
use crate::activity::Activity;
use crate::api::BackendRef;
use crate::bulk::flow::BulkFlow;
use crate::ids::Ids;
use crate::settings::Settings;
use crate::site::SiteState;
use crate::tags::{TagCatalog, TagEdits};

/// The signed-in user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Display name.
    pub name: String,
    /// User principal name.
    pub username: String,
    /// Permissions from the access token.
    pub access: Access,
}

/// Where sign-in stands.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Session {
    /// MSAL is starting (or completing a redirect).
    #[default]
    Starting,
    /// The settings are incomplete; the text says what to fix.
    NeedsSettings(String),
    /// The organisation's `config.json` is invalid or unreadable: one line per problem, each
    /// naming its field. Nothing is called until it is fixed.
    ConfigInvalid(Vec<String>),
    /// Nobody is signed in.
    SignedOut,
    /// On the way to the identity provider.
    Redirecting,
    /// Signed in.
    SignedIn(User),
    /// Sign-in failed; the text says why.
    Failed(String),
}

impl Session {
    /// The user, when signed in.
    pub fn user(&self) -> Option<&User> {
        match self {
            Session::SignedIn(u) => Some(u),
            _ => None,
        }
    }

    /// Whether tag edit controls are shown.
    pub fn can_edit(&self) -> bool {
        self.user().is_some_and(|u| u.access.can_edit())
    }
}

/// Sign-in state.
#[derive(Debug, Clone, Copy)]
pub struct SessionCtx(pub RwSignal<Session>);

/// The saved settings.
#[derive(Debug, Clone, Copy)]
pub struct SettingsCtx(pub RwSignal<Settings>);

/// The organisation's site configuration (`config.json`).
#[derive(Debug, Clone, Copy)]
pub struct SiteCtx(pub RwSignal<SiteState>);

/// The API in use (set once signed in). `!Send`, hence local storage.
#[derive(Debug, Clone, Copy)]
pub struct BackendCtx(pub RwSignal<Option<BackendRef>, LocalStorage>);

/// Optimistic tag changes over the loaded machines.
#[derive(Debug, Clone, Copy)]
pub struct EditsCtx(pub RwSignal<TagEdits>);

/// Tags seen in the tenant, for autocomplete.
#[derive(Debug, Clone, Copy)]
pub struct CatalogCtx(pub RwSignal<TagCatalog>);

/// How a notice looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    /// Something worked.
    Success,
    /// Something failed (and was undone).
    Error,
}

/// A message in the page's live region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// Style.
    pub kind: NoticeKind,
    /// Text.
    pub text: String,
    /// The change that undoes the one this notice reports (a single add or remove).
    pub undo: Option<SingleChange>,
    /// Distinguishes this notice from an identical later one (for the dismiss timer).
    pub serial: u64,
}

/// One tag added to or removed from one machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SingleChange {
    /// The machine.
    pub id: MachineId,
    /// Its computer name, when it has one.
    pub name: Option<String>,
    /// The tag.
    pub tag: Tag,
    /// Add or remove.
    pub action: TagAction,
}

impl SingleChange {
    /// How messages name the machine: its computer name, else its id.
    pub fn label(&self) -> String {
        self.name.clone().unwrap_or_else(|| self.id.to_string())
    }

    /// The machine as the activity log names it.
    pub fn target(&self) -> crate::api::Target {
        crate::api::Target {
            id: self.id.clone(),
            name: self.name.clone(),
            device_value: None,
        }
    }
}

/// How long a success message stays before it goes by itself (errors stay until dismissed).
pub const SUCCESS_NOTICE_MS: i32 = 6_000;

/// The current notice, if any.
#[derive(Debug, Clone, Copy)]
pub struct NoticeCtx(pub RwSignal<Option<Notice>>);

impl NoticeCtx {
    fn show(&self, kind: NoticeKind, text: String, undo: Option<SingleChange>) {
        // Unique over the page's life, not derived from the notice shown: after a notice was
        // cleared, the next one must not share the serial that an older dismiss timer waits for.
        static SERIAL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let serial = SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.0.set(Some(Notice {
            kind,
            text,
            undo,
            serial,
        }));
    }

    /// Shows a success message.
    pub fn success(&self, text: impl Into<String>) {
        self.show(NoticeKind::Success, text.into(), None);
    }

    /// Shows a success message with an Undo button that makes `undo`.
    pub fn success_with_undo(&self, text: impl Into<String>, undo: SingleChange) {
        self.show(NoticeKind::Success, text.into(), Some(undo));
    }

    /// Shows an error message.
    pub fn error(&self, text: impl Into<String>) {
        self.show(NoticeKind::Error, text.into(), None);
    }

    /// Removes the message.
    pub fn clear(&self) {
        self.0.set(None);
    }
}

/// Everything the pages need, created once by `App` (or by a DOM test with a fake backend).
#[derive(Debug, Clone, Copy)]
pub struct AppState {
    /// Sign-in state.
    pub session: SessionCtx,
    /// Settings.
    pub settings: SettingsCtx,
    /// The organisation's configuration.
    pub site: SiteCtx,
    /// The API.
    pub backend: BackendCtx,
    /// Optimistic edits.
    pub edits: EditsCtx,
    /// Tag catalog.
    pub catalog: CatalogCtx,
    /// Notices.
    pub notice: NoticeCtx,
    /// This mount's element-id prefix.
    pub ids: Ids,
    /// This mount's activity log.
    pub activity: Activity,
    /// This mount's bulk run.
    pub bulk: BulkFlow,
}

impl AppState {
    /// The app state from context (for components that need several pieces of it). Panics
    /// outside [`AppState::provide`]'s owner, like `expect_context`.
    pub fn from_context() -> AppState {
        AppState {
            session: expect_context::<SessionCtx>(),
            settings: expect_context::<SettingsCtx>(),
            site: expect_context::<SiteCtx>(),
            backend: expect_context::<BackendCtx>(),
            edits: expect_context::<EditsCtx>(),
            catalog: expect_context::<CatalogCtx>(),
            notice: expect_context::<NoticeCtx>(),
            ids: expect_context::<Ids>(),
            activity: expect_context::<Activity>(),
            bulk: expect_context::<BulkFlow>(),
        }
    }

    /// Creates the app's signals and provides each as context (bare element ids).
    pub fn provide(settings: Settings, session: Session, backend: Option<BackendRef>) -> AppState {
        Self::provide_for(settings, session, backend, Ids::root())
    }

    /// [`AppState::provide`] for one mount of several on a page: everything is its own,
    /// element ids get `ids`' prefix.
    pub fn provide_for(
        settings: Settings,
        session: Session,
        backend: Option<BackendRef>,
        ids: Ids,
    ) -> AppState {
        let activity = Activity::new(&ids.prefix());
        let state = AppState {
            session: SessionCtx(RwSignal::new(session)),
            settings: SettingsCtx(RwSignal::new(settings)),
            site: SiteCtx(RwSignal::new(SiteState::Loading)),
            backend: BackendCtx(RwSignal::new_local(backend)),
            edits: EditsCtx(RwSignal::new(TagEdits::default())),
            catalog: CatalogCtx(RwSignal::new(TagCatalog::default())),
            notice: NoticeCtx(RwSignal::new(None)),
            ids,
            activity,
            bulk: BulkFlow::new(activity),
        };
        provide_context(state.session);
        provide_context(state.settings);
        provide_context(state.site);
        provide_context(state.backend);
        provide_context(state.edits);
        provide_context(state.catalog);
        provide_context(state.notice);
        provide_context(state.ids);
        provide_context(state.activity);
        provide_context(state.bulk);
        // Where tags come from (advanced hunting), cached for this mount.
        provide_context(crate::hunting::provenance::ProvenanceCtx::new());
        state
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    #[cfg(target_arch = "wasm32")]
    {
        js_sys::Date::now() as i64
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }
}
