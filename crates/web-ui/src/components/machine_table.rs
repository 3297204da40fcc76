//! The virtualised results table: a scroll container with a spacer as tall as all rows, and a
//! constant number of absolutely sized row slots moved into view (`transform`) and refilled as
//! the user scrolls. Rows have a fixed height ([`ROW_HEIGHT_PX`]), so the window is arithmetic.

use std::sync::Arc;

use leptos::html;
use leptos::prelude::*;

use crate::search::SearchState;
use crate::state::{EditsCtx, now_ms};
use crate::table::{
    Loaded, MAX_SLOTS, ROW_HEIGHT_PX, RowView, SortDir, SortKey, Window, content_height_px,
};

/// How many tag chips a row shows before "+N". Two fit the column at 1,280 px and up; a third
/// squeezed every chip to a letter or two (the cell's tooltip lists every tag).
const ROW_CHIPS: usize = 2;

/// Sortable, virtualised machine table.
#[component]
pub fn MachineTable(
    /// What the server returned (None while the first load runs).
    #[prop(into)]
    loaded: Signal<Option<Arc<Loaded>>>,
    /// The rows to show, in order: indices into `loaded`.
    #[prop(into)]
    indices: Signal<Arc<Vec<u32>>>,
    /// The current search (sorting, links that open a machine).
    #[prop(into)]
    search: Signal<SearchState>,
    /// Called when a column header is activated.
    on_sort: Callback<SortKey>,
) -> impl IntoView {
    let scroller = NodeRef::<html::Div>::new();
    let scroll_top = RwSignal::new(0.0_f64);
    let viewport = RwSignal::new(600.0_f64);
    let measure = move || {
        if let Some(el) = scroller.get_untracked() {
            scroll_top.set(f64::from(el.scroll_top()));
            viewport.set(f64::from(el.client_height()));
        }
    };
    // Measure once mounted and whenever the window is resized (outside world → signals).
    Effect::new(move |_| {
        if scroller.get().is_some() {
            measure();
        }
    });
    let resize = window_event_listener(leptos::ev::resize, move |_| measure());
    on_cleanup(move || resize.remove());

    let total = Memo::new(move |_| indices.with(|i| i.len()));
    // Back to the top when the result set changes (a new search), not when it is re-sorted.
    Effect::new(move |prev: Option<usize>| {
        let n = total.get();
        // Only when scrolled: writing `scrollTop` forces a synchronous layout, which per
        // keystroke would cost more than the narrowing.
        if prev.is_some_and(|p| p != n) && scroll_top.get_untracked() > 0.0 {
            if let Some(el) = scroller.get_untracked() {
                el.set_scroll_top(0);
            }
            scroll_top.set(0.0);
        }
        n
    });
    let window = Memo::new(move |_| Window::at(scroll_top.get(), viewport.get(), total.get()));

    // Arrow keys move between machines: scroll the target row into the window, then focus its
    // link once it is rendered (rows outside the window do not exist in the DOM). The position
    // is kept here, not read back from the DOM, because slots are reused while scrolling.
    //
    // The table is one tab stop (a roving tabindex): only the current row's link is in the tab
    // order, so Tab goes past 100,000 rows in one step and arrows move inside.
    let cursor = RwSignal::new(None::<usize>);
    let active = Signal::derive(move || {
        let count = total.get();
        cursor.get().unwrap_or(0).min(count.saturating_sub(1))
    });
    let on_focusin = move |ev: leptos::ev::FocusEvent| {
        if let Some(p) = focused_row_index(ev.target()) {
            cursor.set(Some(p));
        }
    };
    let on_keydown = move |ev: leptos::ev::KeyboardEvent| {
        let count = total.get_untracked();
        let Some(current) = cursor
            .get_untracked()
            .or_else(|| focused_row_index(ev.target()))
            .filter(|_| count > 0)
        else {
            return;
        };
        let last = count as i64 - 1;
        let target: i64 = match ev.key().as_str() {
            "ArrowDown" => current as i64 + 1,
            "ArrowUp" => current as i64 - 1,
            "PageDown" => current as i64 + PAGE_ROWS,
            "PageUp" => current as i64 - PAGE_ROWS,
            "Home" => 0,
            "End" => last,
            _ => return,
        };
        ev.prevent_default();
        let target = target.clamp(0, last) as usize;
        cursor.set(Some(target));
        if let Some(el) = scroller.get_untracked() {
            let top = f64::from(el.scroll_top());
            let height = f64::from(el.client_height());
            let row_top = target as f64 * ROW_HEIGHT_PX;
            if row_top < top {
                el.set_scroll_top(row_top as i32);
            } else if row_top + ROW_HEIGHT_PX > top + height {
                el.set_scroll_top((row_top + ROW_HEIGHT_PX - height).ceil() as i32);
            }
        }
        measure();
        request_animation_frame(move || {
            if let Some(el) = scroller.get_untracked() {
                focus_row(&el, target);
            }
        });
    };

    let headers = SortKey::ALL
        .into_iter()
        .map(|key| {
            let sort_state = move || search.with(|s| (s.sort == key).then_some(s.dir));
            let aria_sort = move || match sort_state() {
                Some(SortDir::Asc) => "ascending",
                Some(SortDir::Desc) => "descending",
                None => "none",
            };
            let arrow = move || match sort_state() {
                Some(SortDir::Asc) => "\u{25b2}",
                Some(SortDir::Desc) => "\u{25bc}",
                None => "",
            };
            view! {
                <div role="columnheader" class=format!("cell col-{}", key.as_param()) aria-sort=aria_sort>
                    <button type="button" class="sort-button" on:click=move |_| on_sort.run(key)>
                        {key.label()}
                        <span class="sort-arrow" aria-hidden="true">{arrow}</span>
                    </button>
                </div>
            }
        })
        .collect_view();

    let slots = (0..MAX_SLOTS)
        .map(|n| view! { <RowSlot n=n window=window loaded=loaded indices=indices search=search active=active/> })
        .collect_view();

    view! {
        <div class="machine-table" role="table" aria-label="Machines"
            aria-rowcount=move || total.get() + 1 data-testid="machine-table">
            <div role="rowgroup" class="table-head">
                <div role="row" class="row head-row" aria-rowindex="1">{headers}</div>
            </div>
            // Arrows, Page Up/Down, Home and End move the current row (and scroll to it) from
            // the row link that has the focus.
            <div class="table-scroll" node_ref=scroller role="rowgroup"
                aria-label="Results" on:scroll=move |_| measure() on:keydown=on_keydown on:focusin=on_focusin
                data-testid="table-scroll">
                <div class="table-spacer" role="presentation"
                    style:height=move || format!("{}px", content_height_px(total.get()))>
                    <div class="table-window" role="presentation"
                        style:transform=move || format!("translateY({}px)", window.get().offset_px())>
                        {slots}
                    </div>
                </div>
                {move || (total.get() == 0 && loaded.with(Option::is_some)).then(|| view! {
                    <p class="empty" role="presentation">"No machines match this search. Machines outside the device groups your Defender role covers are not visible to you, so they cannot match."</p>
                })}
            </div>
        </div>
    }
}

/// Rows Page Up / Page Down move by.
const PAGE_ROWS: i64 = 10;

/// Position (0-based) of the result whose link has the focus (the focus or key event's target),
/// from its row's `aria-rowindex`. Read from the event, not `document.activeElement`, which is
/// only the shadow host when the table is inside an embedded component's shadow root.
fn focused_row_index(target: Option<web_sys::EventTarget>) -> Option<usize> {
    let active: web_sys::Element = wasm_bindgen::JsCast::dyn_into(target?).ok()?;
    let row = active.closest("[role=row][aria-rowindex]").ok()??;
    let index: usize = row.get_attribute("aria-rowindex")?.parse().ok()?;
    // Row 1 is the header.
    index.checked_sub(2)
}

/// Focuses the link of the result at `position`, if rendered inside `table`.
fn focus_row(table: &web_sys::Element, position: usize) {
    let selector = format!(
        "[role=row][aria-rowindex=\"{}\"] .machine-link",
        position + 2
    );
    if let Some(el) = table
        .query_selector(&selector)
        .ok()
        .flatten()
        .and_then(|e| wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(e).ok())
    {
        let _ = el.focus();
    }
}

/// One DOM row, reused for whichever result falls in its position of the window.
#[component]
fn RowSlot(
    /// Position of this slot in the window.
    n: usize,
    window: Memo<Window>,
    loaded: Signal<Option<Arc<Loaded>>>,
    indices: Signal<Arc<Vec<u32>>>,
    search: Signal<SearchState>,
    /// Position of the row whose link is in the tab order.
    active: Signal<usize>,
) -> impl IntoView {
    let edits = expect_context::<EditsCtx>().0;
    let position = Memo::new(move |_| window.get().start + n);
    let row = Memo::new(move |_| {
        let pos = position.get();
        let w = window.get();
        if n >= w.slots {
            return None;
        }
        let index = indices.with(|i| i.get(pos).copied())? as usize;
        loaded.with(|l| {
            let l = l.as_ref()?;
            let m = l.machines.get(index)?;
            let tags = edits.with(|e| e.effective_tags(&m.id, &m.machine_tags));
            RowView::new(l, index, tags, now_ms())
        })
    });
    let field = move |f: fn(&RowView) -> String| {
        move || row.with(|r| r.as_ref().map(f).unwrap_or_default())
    };
    // Read from the page once per row slot, not on every scroll step that re-renders it.
    let base = crate::site::base_path();
    let href = move || {
        row.with(|r| {
            r.as_ref().map(|r| {
                let mut s = search.get();
                s.selected = Some(r.id.clone());
                crate::site::join(&base, &format!("/{}", s.to_query_string()))
            })
        })
    };
    let is_selected = move || {
        row.with(|r| r.as_ref().map(|r| r.id.clone())) == search.with(|s| s.selected.clone())
            && row.with(Option::is_some)
    };
    // A registry or rule tag says so in the row too, once the machine panel has read the
    // sources (crate::hunting::provenance); manual is the panel's to say, not every row's.
    let provenance = crate::hunting::provenance::use_provenance();
    let chips = move || {
        let sources = provenance.and_then(|p| p.0.with(|s| s.snapshot.clone()));
        row.with(|r| {
            let tags = r.as_ref().map(|r| r.tags.clone()).unwrap_or_default();
            let more = tags.len().saturating_sub(ROW_CHIPS);
            let id = r.as_ref().map(|r| r.id.clone());
            let source = move |t: &str| {
                let snap = sources.as_ref()?;
                snap.source_of(id.as_ref()?, t)
                    .filter(|s| *s != defender_tags_core::hunting::TagSource::Manual)
            };
            view! {
                {tags.into_iter().take(ROW_CHIPS).map(|t| {
                    let from = source(&t);
                    let title = match from {
                        Some(s) => format!("{t} ({} tag)", s.as_str()),
                        None => t.clone(),
                    };
                    view! {
                        <span class="chip chip-small" title=title>{t}
                            {from.map(|s| view! { <span class=format!("chip-source chip-source-{}", s.as_str())><span class="visually-hidden">", set by "</span>{s.as_str()}</span> })}
                        </span>
                    }
                }).collect_view()}
                {(more > 0).then(|| view! { <span class="chip-more">{format!("+{more}")}</span> })}
            }
        })
    };
    view! {
        <div role="row" class="row body-row" class:selected=is_selected
            hidden=move || row.with(Option::is_none)
            aria-rowindex=move || position.get() + 2
            style:height=format!("{ROW_HEIGHT_PX}px")>
            <div role="cell" class="cell col-name">
                <a class="machine-link" href=href aria-current=move || is_selected().then_some("true")
                    tabindex=move || if position.get() == active.get() { "0" } else { "-1" }>
                    {field(|r| r.name.clone())}
                </a>
                {move || row.with(|r| r.as_ref().is_some_and(|r| r.duplicate)).then(|| view! {
                    <span class="badge badge-warn" title="Another machine has the same computer name">"duplicate"</span>
                })}
            </div>
            <div role="cell" class="cell col-os" title=field(|r| r.os.clone())>{field(|r| r.os.clone())}</div>
            <div role="cell" class="cell col-health" title=field(|r| r.health.clone())>{field(|r| r.health.clone())}</div>
            <div role="cell" class="cell col-risk" title=field(|r| r.risk.clone())>{field(|r| r.risk.clone())}</div>
            <div role="cell" class="cell col-exposure" title=field(|r| r.exposure.clone())>{field(|r| r.exposure.clone())}</div>
            <div role="cell" class="cell col-value" title=field(|r| r.value.clone())>{field(|r| r.value.clone())}</div>
            <div role="cell" class="cell col-group" title=field(|r| r.group.clone())>{field(|r| r.group.clone())}</div>
            <div role="cell" class="cell col-seen" title=field(|r| r.last_seen_exact.clone())>{field(|r| r.last_seen.clone())}</div>
            <div role="cell" class="cell col-ip mono">{field(|r| r.ip.clone())}</div>
            <div role="cell" class="cell col-tags" title=move || row.with(|r| r.as_ref().map(|r| r.tags.join(", ")))>{chips}</div>
        </div>
    }
}
