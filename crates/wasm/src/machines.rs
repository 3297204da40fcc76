//! Machine and tag calls of `DefenderClient`, and paging over `GET /api/machines`.

use defender_tags_core::api::{self, ListQuery, NextLinkError, NextPage};
use defender_tags_core::cloud::BaseUrl;
use defender_tags_core::model::{DeviceValue, Machine, MachineId, MachineRef, Tag, TagAction};
use defender_tags_core::odata::Filter;
use defender_tags_core::wire::{MAX_PAGE_SIZE, ODataList};

use std::cell::Cell;
use std::rc::Rc;
use std::task::Poll;

use crate::client::{CallCtx, Decoder, DefenderClient, with_response};
use crate::error::ClientError;
use crate::token::LocalBoxFuture;
use crate::transport::{HttpRequest, HttpResponse};

/// Which page of `GET /api/machines` to fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PageRequest {
    /// `$top`: page size (at most 10,000); `None` lets the API choose.
    pub top: Option<u32>,
    /// `$skip`: machines to skip.
    pub skip: Option<u32>,
}

/// Where the next page comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageCursor {
    /// The API's `@odata.nextLink` (absolute; followed only on the API origin).
    NextLink(String),
    /// No nextLink but a full page: continue with `$skip`.
    Skip(PageRequest),
}

/// One page of machines.
#[derive(Debug, Clone, PartialEq)]
pub struct MachinePage {
    /// The machines of this page.
    pub machines: Vec<Machine>,
    /// How to get the next page; `None` on the last page.
    pub next: Option<PageCursor>,
}

fn list_query(filter: Option<&Filter>, page: PageRequest) -> Result<ListQuery, ClientError> {
    let mut query = ListQuery::new()
        .with_filter(filter.cloned())
        .with_skip(u64::from(page.skip.unwrap_or(0)));
    if let Some(top) = page.top {
        query = query
            .with_top(top)
            .map_err(|e| ClientError::invalid("top", e))?;
    }
    Ok(query)
}

/// The cursor after `list`, which answered `query`: core decides (nextLink first, else `$skip`
/// while pages are full).
fn next_cursor(query: &ListQuery, list: &ODataList<Machine>, base: &BaseUrl) -> Option<PageCursor> {
    if let Some(link) = list.next_link.as_deref().filter(|l| !l.is_empty()) {
        // Kept as text: it is validated (origin, shape) when followed, so a bad link fails
        // the *next* call rather than hiding the page that carried it.
        return Some(PageCursor::NextLink(link.to_owned()));
    }
    match api::next_page(query, list, base) {
        Ok(Some(NextPage::Query(next))) => Some(PageCursor::Skip(PageRequest {
            top: next.top(),
            skip: Some(u32::try_from(next.skip()).unwrap_or(u32::MAX)),
        })),
        _ => None,
    }
}

impl DefenderClient {
    /// The request for `cursor`'s page, and the query it answers (for the `$skip` continuation).
    fn page_request(
        &self,
        filter: Option<&Filter>,
        cursor: PageCursor,
    ) -> Result<(ListQuery, HttpRequest), ClientError> {
        let base = &self.config().base_url;
        match cursor {
            PageCursor::Skip(page) => {
                let query = list_query(filter, page)?;
                let request = self.http_request(&api::list_machines(&query));
                Ok((query, request))
            }
            PageCursor::NextLink(link) => {
                // Core turns the link into a request only if it is on our origin; `execute`
                // checks the origin again right before the fetch.
                let request = api::request_from_next_link(&link, base).map_err(|e| match e {
                    NextLinkError::ForeignOrigin { .. } => {
                        ClientError::foreign_origin(&link, base.as_str())
                    }
                    other => ClientError::invalid("nextLink", other),
                })?;
                Ok((ListQuery::new(), self.http_request(&request)))
            }
        }
    }

    /// Decodes a page's answer with `decode` (every field, or only what a listing keeps).
    fn decode_page(
        &self,
        query: &ListQuery,
        response: &HttpResponse,
        decode: Decoder<ODataList<Machine>>,
    ) -> Result<MachinePage, ClientError> {
        let list = with_response(decode)(response).map_err(ClientError::Api)?;
        let next = next_cursor(query, &list, &self.config().base_url);
        Ok(MachinePage {
            machines: list.value,
            next,
        })
    }

    async fn fetch_page(
        &self,
        filter: Option<&Filter>,
        cursor: PageCursor,
    ) -> Result<MachinePage, ClientError> {
        let (query, request) = self.page_request(filter, cursor)?;
        let response = self.exchange(request, &CallCtx::default()).await?;
        self.decode_page(&query, &response, api::decode_list_machines)
    }

    /// One page of `GET /api/machines` with an optional `$filter`. A 404 ("no recent machines")
    /// is an empty page.
    pub async fn list_machines(
        &self,
        filter: Option<&Filter>,
        page: PageRequest,
    ) -> Result<MachinePage, ClientError> {
        self.fetch_page(filter, PageCursor::Skip(page)).await
    }

    /// Continues a listing from a page's `next` cursor.
    pub async fn next_page(
        &self,
        filter: Option<&Filter>,
        cursor: PageCursor,
    ) -> Result<MachinePage, ClientError> {
        self.fetch_page(filter, cursor).await
    }

    /// All pages of a listing, fetched as [`MachinePages::next`] is awaited. When a page names
    /// its next page (`@odata.nextLink`), that request is sent before the page is decoded, so
    /// the network carries one page while this thread decodes the one before.
    pub fn list_all_machines(&self, filter: Option<Filter>) -> MachinePages {
        let top = self.config().page_size.clamp(1, MAX_PAGE_SIZE);
        MachinePages {
            client: self.clone(),
            filter,
            cursor: Some(PageCursor::Skip(PageRequest {
                top: Some(top),
                skip: None,
            })),
            seen: Vec::new(),
            decode: api::decode_list_machines,
            ahead: None,
        }
    }

    /// `GET /api/machines/{id}` (an id or a computer name).
    pub async fn machine(&self, machine: &MachineRef) -> Result<Machine, ClientError> {
        let request = api::get_machine(machine);
        self.call(
            &request,
            with_response(api::decode_machine),
            &CallCtx::default(),
        )
        .await
    }

    /// `GET /api/machines/findbytag`: machines carrying `tag` (or a tag starting with it).
    pub async fn find_by_tag(&self, tag: &str, prefix: bool) -> Result<Vec<Machine>, ClientError> {
        let request = api::find_by_tag(tag, prefix).map_err(|e| ClientError::invalid("tag", e))?;
        self.call(
            &request,
            with_response(api::decode_machines),
            &CallCtx::default(),
        )
        .await
    }

    /// `POST /api/machines/{id}/tags`: adds or removes one tag; returns the updated machine.
    pub async fn set_tag(
        &self,
        id: &MachineId,
        tag: &Tag,
        action: TagAction,
    ) -> Result<Machine, ClientError> {
        let request = api::set_tag(id, tag, action);
        self.call(
            &request,
            with_response(api::decode_machine),
            &CallCtx::default(),
        )
        .await
    }

    /// `POST /api/machines/{id}/setDeviceValue`: returns the updated machine. One call per
    /// machine (there is no bulk form); a value the API would refuse is refused here, unsent.
    pub async fn set_device_value(
        &self,
        id: &MachineId,
        value: &DeviceValue,
    ) -> Result<Machine, ClientError> {
        let request =
            api::set_device_value(id, value).map_err(|e| ClientError::invalid("deviceValue", e))?;
        self.call(
            &request,
            with_response(api::decode_machine),
            &CallCtx::default(),
        )
        .await
    }
}

/// The next page's request, sent before the current page was decoded.
struct Ahead {
    cursor: PageCursor,
    query: ListQuery,
    response: LocalBoxFuture<'static, Result<HttpResponse, ClientError>>,
}

impl std::fmt::Debug for Ahead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ahead")
            .field("cursor", &self.cursor)
            .finish_non_exhaustive()
    }
}

/// Pages of a listing; call [`next`](Self::next) until it returns `None`.
#[derive(Debug)]
pub struct MachinePages {
    client: DefenderClient,
    filter: Option<Filter>,
    cursor: Option<PageCursor>,
    /// Every cursor already fetched: a service that hands out a link it already gave would
    /// otherwise keep the listing (and the rate budget) going forever.
    seen: Vec<PageCursor>,
    /// Core's decoder of a page: the whole machine entity, or (after [`MachinePages::listed`])
    /// only what a listing keeps. A function pointer, so a build that never lists that way (the
    /// npm package) does not carry the second decoder.
    decode: Decoder<ODataList<Machine>>,
    /// The request for the page the current one is expected to name next.
    ahead: Option<Ahead>,
}

impl MachinePages {
    /// Decodes only the fields a listing shows (`defender_tags_core::model::keep_listed_fields`),
    /// skipping the rest in the page text: what the web UI loads 100k machines with.
    pub fn listed(mut self) -> Self {
        self.decode = api::decode_list_machines_listed;
        self
    }

    /// The next page, `None` after the last one. After an error the listing stops.
    pub async fn next(&mut self) -> Option<Result<Vec<Machine>, ClientError>> {
        let cursor = self.cursor.take()?;
        if self.seen.contains(&cursor) {
            return Some(Err(ClientError::invalid(
                "nextLink",
                "the API returned a next-page link it had already returned; stopping the listing",
            )));
        }
        self.seen.push(cursor.clone());
        Some(self.page(cursor).await)
    }

    async fn page(&mut self, cursor: PageCursor) -> Result<Vec<Machine>, ClientError> {
        let (query, response) = match self.ahead.take() {
            Some(ahead) if ahead.cursor == cursor => (ahead.query, ahead.response.await?),
            // Sent for a link the page did not name after all: dropped (the call still counts
            // against the rate budget, as any request the service may have seen).
            _ => {
                let (query, request) = self.client.page_request(self.filter.as_ref(), cursor)?;
                let response = self.client.exchange(request, &CallCtx::default()).await?;
                (query, response)
            }
        };
        if (200..300).contains(&response.status) {
            self.send_ahead(&response.body).await;
        }
        let page = self.client.decode_page(&query, &response, self.decode)?;
        self.cursor = page.next;
        if self
            .ahead
            .as_ref()
            .is_some_and(|a| Some(&a.cursor) != self.cursor.as_ref())
        {
            self.ahead = None;
        }
        Ok(page.machines)
    }

    /// Sends the request for the page `body` links to (read from its text, see
    /// [`api::peek_next_link`]) and returns once it is on its way, waiting on the rate limit,
    /// or done: the caller decodes `body` meanwhile. A link already followed, or one that
    /// cannot be followed, is left for the decoded page to report.
    async fn send_ahead(&mut self, body: &[u8]) {
        let Some(link) = api::peek_next_link(body) else {
            return;
        };
        let cursor = PageCursor::NextLink(link);
        if self.seen.contains(&cursor) {
            return;
        }
        let Ok((query, request)) = self
            .client
            .page_request(self.filter.as_ref(), cursor.clone())
        else {
            return;
        };
        let under_way = Rc::new(Cell::new(false));
        let mut response: LocalBoxFuture<'static, Result<HttpResponse, ClientError>> = {
            let client = self.client.clone();
            let under_way = Rc::clone(&under_way);
            Box::pin(async move {
                let flag = || under_way.set(true);
                let on_wait = |_ms: u64| under_way.set(true);
                let ctx = CallCtx {
                    on_sent: Some(&flag),
                    on_wait: Some(&on_wait),
                    ..CallCtx::default()
                };
                client.exchange(request, &ctx).await
            })
        };
        let mut done = None;
        std::future::poll_fn(|cx| match response.as_mut().poll(cx) {
            Poll::Ready(result) => {
                done = Some(result);
                Poll::Ready(())
            }
            Poll::Pending if under_way.get() => Poll::Ready(()),
            Poll::Pending => Poll::Pending,
        })
        .await;
        let response = match done {
            Some(result) => Box::pin(std::future::ready(result)),
            None => response,
        };
        self.ahead = Some(Ahead {
            cursor,
            query,
            response,
        });
    }

    /// Every remaining machine, in order; the first error ends the listing.
    pub async fn collect_all(mut self) -> Result<Vec<Machine>, ClientError> {
        let mut all = Vec::new();
        while let Some(page) = self.next().await {
            all.extend(page?);
        }
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(n: usize, next_link: Option<&str>) -> ODataList<Machine> {
        let mut list = ODataList::new(
            (0..n)
                .map(|i| Machine::new(MachineId::parse(&format!("{i:040x}")).unwrap()))
                .collect(),
        );
        list.next_link = next_link.map(str::to_owned);
        list
    }

    fn base() -> BaseUrl {
        BaseUrl::parse("https://api.security.microsoft.com").unwrap()
    }

    fn page(top: Option<u32>, skip: Option<u32>) -> PageRequest {
        PageRequest { top, skip }
    }

    #[test]
    fn next_link_wins_over_skip() {
        let q = list_query(None, page(Some(2), None)).unwrap();
        let link = "https://api.security.microsoft.com/api/machines?$skiptoken=a";
        assert_eq!(
            next_cursor(&q, &list(2, Some(link)), &base()),
            Some(PageCursor::NextLink(link.into()))
        );
    }

    #[test]
    fn a_full_page_without_next_link_continues_with_skip() {
        let q = list_query(None, page(Some(100), Some(200))).unwrap();
        assert_eq!(
            next_cursor(&q, &list(100, None), &base()),
            Some(PageCursor::Skip(page(Some(100), Some(300))))
        );
        assert_eq!(next_cursor(&q, &list(99, None), &base()), None);
        assert_eq!(next_cursor(&q, &list(0, None), &base()), None);
    }

    #[test]
    fn a_bad_page_size_is_an_input_error() {
        assert_eq!(
            list_query(None, page(Some(0), None)).unwrap_err().code(),
            "invalid_input"
        );
        assert_eq!(
            list_query(None, page(Some(10_001), None))
                .unwrap_err()
                .code(),
            "invalid_input"
        );
    }
}
