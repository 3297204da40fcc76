//! The virtual window: which rows of a long result list are in the DOM for a scroll position.

use std::ops::Range;

/// Height of one table row in CSS pixels. Fixed: the virtual window depends on it (`app.css`
/// sets the same value on `.row`).
pub const ROW_HEIGHT_PX: f64 = 40.0;

/// Rows rendered above and below the visible ones, so fast scrolling shows no blank band.
pub const OVERSCAN_ROWS: usize = 6;

/// Upper bound of DOM rows: enough to fill a 1,600px tall viewport plus the overscan. The DOM
/// row count is this constant whatever the number of results.
pub const MAX_SLOTS: usize = 40 + 2 * OVERSCAN_ROWS;
/// Which rows to render for a scroll position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// First rendered row (position in the sorted, narrowed list).
    pub start: usize,
    /// Number of DOM row slots; constant for a given viewport height.
    pub slots: usize,
}

impl Window {
    /// The window for a scroll container scrolled to `scroll_top` px, `viewport_px` tall, over
    /// `total` rows of [`ROW_HEIGHT_PX`].
    pub fn at(scroll_top: f64, viewport_px: f64, total: usize) -> Window {
        let visible = (viewport_px.max(0.0) / ROW_HEIGHT_PX).ceil() as usize + 1;
        let slots = (visible + 2 * OVERSCAN_ROWS).min(MAX_SLOTS);
        let first_visible = (scroll_top.max(0.0) / ROW_HEIGHT_PX).floor() as usize;
        let max_start = total.saturating_sub(slots);
        let start = first_visible.saturating_sub(OVERSCAN_ROWS).min(max_start);
        Window { start, slots }
    }

    /// The row positions this window shows, clipped to `total`.
    pub fn rows(&self, total: usize) -> Range<usize> {
        self.start.min(total)..(self.start + self.slots).min(total)
    }

    /// Vertical offset of the first rendered row, in px.
    pub fn offset_px(&self) -> f64 {
        self.start as f64 * ROW_HEIGHT_PX
    }
}

/// Total scroll height for `total` rows, in px.
pub fn content_height_px(total: usize) -> f64 {
    total as f64 * ROW_HEIGHT_PX
}
