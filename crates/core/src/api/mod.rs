//! Sans-IO API calls: per endpoint, a builder of a neutral [`ApiRequest`] and a decoder of
//! `(status, headers, body)`. Transports (the wasm client, tests) do the I/O in between.

mod decode;
pub mod encode;
mod paging;
mod request;

pub(crate) use decode::error_details;
pub use decode::{
    ApiError, decode_error, decode_list_machines, decode_list_machines_listed, decode_machine,
    decode_machines, decode_tagged_machine, decode_tagged_machines, header,
};
pub use paging::{NextLinkError, NextPage, next_page, peek_next_link, request_from_next_link};
pub use request::{
    ApiRequest, FindByTagError, ListQuery, ListQueryError, Method, bulk_request, bulk_set_tag,
    find_by_tag, get_machine, list_machines, set_device_value, set_tag,
};
