use super::*;

const API: &str = "https://api.security.microsoft.com";
const PORTAL: &str = "https://portal.contoso.com";

fn server(json: &str) -> Result<ProxySettings, Vec<ProxyConfigError>> {
    ProxySettings::parse(json, ConfigUse::Server)
}

/// The single error of `json`, as `(field, message)`.
fn only_error(json: &str, usage: ConfigUse) -> (String, String) {
    let errors = ProxySettings::parse(json, usage).unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
    (errors[0].field.clone(), errors[0].message.clone())
}

#[test]
fn a_full_server_config_is_read_and_normalised() {
    let s = server(&format!(
        r#"{{"apiBaseUrl":"{API}/api/","allowedOrigins":["{PORTAL}","http://localhost:5173"],
            "listen":{{"host":"0.0.0.0","port":9000}},"timeoutMs":5000,
            "publicUrl":"https://Edge.Contoso.com"}}"#
    ))
    .unwrap();
    assert_eq!(s.api_base.as_str(), API);
    assert_eq!(s.allowed_origins, [PORTAL, "http://localhost:5173"]);
    assert_eq!(
        s.listen,
        Some(Listen {
            host: "0.0.0.0".into(),
            port: 9000
        })
    );
    assert_eq!(s.timeout_ms, 5000);
    assert_eq!(
        s.public_url.map(|u| u.as_str().to_owned()).as_deref(),
        Some("https://edge.contoso.com")
    );
}

#[test]
fn public_url_may_carry_a_path_and_api_base_url_may_not() {
    let s = server(&format!(
        r#"{{"apiBaseUrl":"{API}","allowedOrigins":["{PORTAL}"],"publicUrl":"{PORTAL}/defender/"}}"#
    ))
    .unwrap();
    let public = s.public_url.unwrap();
    assert_eq!(public.as_str(), "https://portal.contoso.com/defender");
    assert_eq!(public.prefix(), "/defender");
    let (field, message) = only_error(
        &format!(r#"{{"apiBaseUrl":"{API}/v2","allowedOrigins":["{PORTAL}"]}}"#),
        ConfigUse::Server,
    );
    assert_eq!(field, "apiBaseUrl");
    assert!(message.contains("/v2"), "{message}");
    let (field, message) = only_error(
        &format!(
            r#"{{"apiBaseUrl":"{API}","allowedOrigins":["{PORTAL}"],"publicUrl":"{PORTAL}/a/../b"}}"#
        ),
        ConfigUse::Server,
    );
    assert_eq!(field, "publicUrl");
    assert!(message.contains("'..'"), "{message}");
}

#[test]
fn defaults_listen_on_loopback_8787() {
    let s = server(&format!(
        r#"{{"apiBaseUrl":"{API}","allowedOrigins":["{PORTAL}"]}}"#
    ))
    .unwrap();
    assert_eq!(
        s.listen,
        Some(Listen {
            host: "127.0.0.1".into(),
            port: 8787
        })
    );
    assert_eq!(s.timeout_ms, DEFAULT_TIMEOUT_MS);
    assert_eq!(s.public_url, None);
}

#[test]
fn malformed_json_is_one_error_without_a_field() {
    let (field, message) = only_error(r#"{"apiBaseUrl": "#, ConfigUse::Server);
    assert_eq!(field, "");
    assert!(message.starts_with("not valid JSON"), "{message}");
    let (field, message) = only_error("[1]", ConfigUse::Server);
    assert_eq!(field, "");
    assert!(message.contains("JSON object, not an array"), "{message}");
}

#[test]
fn no_allowed_origins_is_refused_for_services_but_not_for_the_handler() {
    let api = format!(r#""apiBaseUrl":"{API}""#);
    let (field, message) = only_error(&format!("{{{api}}}"), ConfigUse::Server);
    assert_eq!(field, "allowedOrigins");
    assert!(message.starts_with("is required"), "{message}");
    let (field, message) = only_error(
        &format!(r#"{{{api},"allowedOrigins":[]}}"#),
        ConfigUse::Worker,
    );
    assert_eq!(field, "allowedOrigins");
    assert!(message.starts_with("is empty"), "{message}");
    let handler = ProxySettings::parse(&format!("{{{api}}}"), ConfigUse::Handler).unwrap();
    assert!(handler.allowed_origins.is_empty());
}

#[test]
fn api_base_url_must_be_https_except_on_loopback() {
    let json = |url: &str| format!(r#"{{"apiBaseUrl":"{url}","allowedOrigins":["{PORTAL}"]}}"#);
    let (field, message) = only_error(
        &json("http://api.security.microsoft.com"),
        ConfigUse::Server,
    );
    assert_eq!(field, "apiBaseUrl");
    assert!(
        message.contains("uses http for api.security.microsoft.com; use https"),
        "{message}"
    );
    assert!(!message.contains("API base URL"), "{message}");
    assert!(server(&json("http://127.0.0.1:9999")).is_ok());
    let (field, message) = only_error(&json("ftp://x.example"), ConfigUse::Server);
    assert_eq!(field, "apiBaseUrl");
    assert!(message.contains("scheme \"ftp\""), "{message}");
    let (field, _) = only_error(&json("https://x.example/other/path"), ConfigUse::Server);
    assert_eq!(field, "apiBaseUrl");
    let (field, message) = only_error(&json("x.example"), ConfigUse::Server);
    assert_eq!(field, "apiBaseUrl");
    assert_eq!(
        message,
        "\"x.example\" has no scheme; start it with https://"
    );
    let (field, message) = only_error(
        &format!(r#"{{"allowedOrigins":["{PORTAL}"]}}"#),
        ConfigUse::Server,
    );
    assert_eq!(field, "apiBaseUrl");
    assert!(message.starts_with("is required"), "{message}");
    let (field, message) = only_error(
        &format!(r#"{{"apiBaseUrl":42,"allowedOrigins":["{PORTAL}"]}}"#),
        ConfigUse::Server,
    );
    assert_eq!(
        (field.as_str(), message.as_str()),
        ("apiBaseUrl", "must be a string, not a number")
    );
}

#[test]
fn each_bad_origin_is_named_by_its_index() {
    let errors = server(&format!(
        r#"{{"apiBaseUrl":"{API}","allowedOrigins":["{PORTAL}","*","https://portal.contoso.com/",
            "HTTPS://X.example","http://intranet.contoso.com","not an origin","https://a.example:443",7,"{PORTAL}"]}}"#
    ))
    .unwrap_err();
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "allowedOrigins[1]",
            "allowedOrigins[2]",
            "allowedOrigins[3]",
            "allowedOrigins[4]",
            "allowedOrigins[5]",
            "allowedOrigins[6]",
            "allowedOrigins[7]",
            "allowedOrigins[8]",
        ]
    );
    let message = |i: usize| errors[i].message.as_str();
    assert!(message(0).contains("wildcards are not allowed"));
    assert!(
        message(1).contains("use \"https://portal.contoso.com\""),
        "{}",
        message(1)
    );
    assert!(
        message(2).contains("use \"https://x.example\""),
        "{}",
        message(2)
    );
    assert!(
        message(3).contains("uses http off loopback"),
        "{}",
        message(3)
    );
    assert!(message(4).contains("is not an origin"), "{}", message(4));
    assert!(
        message(5).contains("use \"https://a.example\""),
        "{}",
        message(5)
    );
    assert_eq!(message(6), "must be a string, not a number");
    assert!(message(7).contains("listed twice"));
    let (field, _) = only_error(
        &format!(r#"{{"apiBaseUrl":"{API}","allowedOrigins":"{PORTAL}"}}"#),
        ConfigUse::Server,
    );
    assert_eq!(field, "allowedOrigins");
}

#[test]
fn unknown_keys_are_named_including_inside_listen() {
    let errors = server(&format!(
        r#"{{"apiBaseUrl":"{API}","allowedOrigin":["{PORTAL}"],"allowedOrigins":["{PORTAL}"],
            "listen":{{"hots":"127.0.0.1"}}}}"#
    ))
    .unwrap_err();
    let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 2, "{shown:?}");
    assert!(
        shown[0].starts_with("allowedOrigin: unknown key; expected one of: apiBaseUrl"),
        "{}",
        shown[0]
    );
    assert_eq!(shown[1], "listen.hots: unknown key; expected host, port");
    let (field, message) = only_error(
        &format!(r#"{{"apiBaseUrl":"{API}","allowedOrigins":["{PORTAL}"],"listen":{{"port":1}}}}"#),
        ConfigUse::Worker,
    );
    assert_eq!(field, "listen");
    assert!(
        message.contains("only the Node server listens"),
        "{message}"
    );
}

#[test]
fn listen_timeout_and_public_url_values_are_checked() {
    let errors = server(&format!(
        r#"{{"apiBaseUrl":"{API}","allowedOrigins":["{PORTAL}"],"listen":{{"host":"bad host!","port":70000}},
            "timeoutMs":0,"publicUrl":"http://edge.contoso.com"}}"#
    ))
    .unwrap_err();
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        ["timeoutMs", "publicUrl", "listen.host", "listen.port"]
    );
    let (field, _) = only_error(
        &format!(r#"{{"apiBaseUrl":"{API}","allowedOrigins":["{PORTAL}"],"listen":8787}}"#),
        ConfigUse::Server,
    );
    assert_eq!(field, "listen");
    let port0 = server(&format!(
        r#"{{"apiBaseUrl":"{API}","allowedOrigins":["{PORTAL}"],"listen":{{"port":0}}}}"#
    ))
    .unwrap();
    assert_eq!(port0.listen.map(|l| l.port), Some(0));
}

#[test]
fn all_errors_are_reported_at_once_one_per_line() {
    let errors = server(r#"{"apiBaseUrl":"http://x.example","allowedOrigins":[],"extra":true}"#)
        .unwrap_err();
    assert_eq!(errors.len(), 3);
    let text = ErrorList(&errors).to_string();
    assert_eq!(text.lines().count(), 3);
    assert!(text.lines().any(|l| l.starts_with("extra: unknown key")));
    assert!(text.lines().any(|l| l.starts_with("apiBaseUrl: ")));
    assert!(
        text.lines()
            .any(|l| l.starts_with("allowedOrigins: is empty"))
    );
}

#[test]
fn config_use_names() {
    assert_eq!(ConfigUse::from_name("server"), Some(ConfigUse::Server));
    assert_eq!(ConfigUse::from_name("worker"), Some(ConfigUse::Worker));
    assert_eq!(ConfigUse::from_name("handler"), Some(ConfigUse::Handler));
    assert_eq!(ConfigUse::from_name("Server"), None);
}
