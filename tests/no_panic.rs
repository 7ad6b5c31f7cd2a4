//! No input makes the profile or config readers panic.

use std::path::Path;

use proptest::prelude::*;

use pkiforge::pki::config::Config;
use pkiforge::pki::profile;

fn toml_like() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("ca".to_string()),
        Just("server".to_string()),
        Just("client".to_string()),
        Just("bits".to_string()),
        Just("subject".to_string()),
        Just("san".to_string()),
        Just("C".to_string()),
        Just("CN".to_string()),
        Just("emailAddress".to_string()),
        "[a-zA-Z_]{1,8}",
    ];
    let value = prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        "\"[^\"\\\\]{0,12}\"",
        Just("[\"DNS:localhost\", \"IP:::1\"]".to_string()),
        Just("{ CN = \"x\" }".to_string()),
        Just("true".to_string()),
        Just("1.5".to_string()),
        Just("1979-05-27".to_string()),
        "\"(DNS|IP|URI|email|dns|RID):[ -~]{0,20}\"".prop_map(|s| format!("[{s}]")),
    ];
    let line = prop_oneof![
        key.clone().prop_map(|k| format!("[{k}]")),
        key.clone().prop_map(|k| format!("[[{k}]]")),
        (key.clone(), key.clone()).prop_map(|(a, b)| format!("[{a}.{b}]")),
        (key, value).prop_map(|(k, v)| format!("{k} = {v}")),
    ];
    prop::collection::vec(line, 0..16).prop_map(|l| l.join("\n"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic_the_profile_loader(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.toml");
        std::fs::write(&path, &bytes).unwrap();
        let _ = profile::load(&path).map_err(|e| e.to_string());
    }

    #[test]
    fn arbitrary_toml_never_panics_the_profile_loader(text in toml_like()) {
        let _ = profile::parse(Path::new("p.toml"), &text).map_err(|e| e.to_string());
    }

    #[test]
    fn arbitrary_text_never_panics_the_config_reader(text in "[\\[\\]=$#\"'\\\\{}():a-z_. \n]{0,200}") {
        let _ = Config::parse(&text);
    }
}
