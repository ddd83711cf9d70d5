//! Unit tests, and Traefik's template language as (template, rendered) rows.

#[allow(unused_imports)]
use super::{exec::*, funcs::*, lex::*, parse::*, value::*, *};
mod unit {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "DOMAIN" => Some("example.com".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn what_dynamic_files_use() {
        let r = |t: &str| render(t, &env);
        assert_eq!(r("rule: Host(`a`)").unwrap(), "rule: Host(`a`)");
        assert_eq!(
            r("Host(`{{ env \"DOMAIN\" }}`)").unwrap(),
            "Host(`example.com`)"
        );
        assert_eq!(
            r("{{ env \"NOPE\" | default \"x.test\" }}").unwrap(),
            "x.test"
        );
        assert_eq!(r("{{ default \"d\" (env \"EMPTY\") }}").unwrap(), "d");
        assert_eq!(
            r("{{ env \"DOMAIN\" | upper | quote }}").unwrap(),
            "\"EXAMPLE.COM\""
        );
        assert_eq!(r("a {{- /* c */ -}} b").unwrap(), "ab");
        assert_eq!(r("{{ \"lit\" }}").unwrap(), "lit");
        for bad in [
            "{{ range .X }}",
            "{{ .Name }}",
            "{{ env }}",
            "{{ env \"A",
            "{{ sha1sum \"x\" }}",
            "{{ }}",
            "{{ if true }}",
            "{{ end }}",
            "{{ template \"x\" }}",
        ] {
            assert!(r(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hostile_templates_end_with_an_error() {
        let r = |t: &str| render(t, &env);
        assert!(r("{{ range until 100000000 }}x{{ end }}").is_err());
        assert!(r("{{ range $i := until 1000 }}{{ range until 1000 }}{{ range until 1000 }}{{ end }}{{ end }}{{ end }}").is_err());
        assert!(r("{{ repeat 1000000000 \"xxxxxxxx\" }}").is_err());
        assert!(r(&"{{ if true }}".repeat(500)).is_err());
        assert!(r(&format!(
            "{{{{ {}1{} }}}}",
            "(".repeat(5000),
            ")".repeat(5000)
        ))
        .is_err());
        assert!(r("{{ div 1 0 }}").is_err());
        assert!(r("{{ index (list 1) 5 }}").is_err());
        assert!(r("{{ substr 5 2 \"abcdefgh\" }}").is_err());
        assert!(r("{{ trunc -99 \"ab\" }}").is_ok());
        assert!(r("{{ 'é' }}").is_ok());
        assert!(r("{{ 0x }}").is_err());
    }
}

/// The template language Traefik's file provider gives its files (file.go's
/// CreateConfiguration: text/template, sprig's TxtFuncMap, `normalize`, `split` as Go's
/// strings.Split, the data `false`), as (template, rendered) rows; sprig's semantics from its
/// documentation. The fixtures' own templates are in `file::traefik_tables`.
mod traefik_tables {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "DOMAIN" => Some("example.com".into()),
            "HOSTS" => Some("a.test,b.test".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn rendered() {
        let rows: &[(&str, &str)] = &[
            // template_file.toml, template_in_directory_file0*.toml: range over until.
            ("{{ range $i, $e := until 3 }}r{{ $e }} {{ end }}", "r0 r1 r2 "),
            ("{{ range until 2 }}[{{ . }}]{{ end }}", "[0][1]"),
            ("{{ range $e := list \"a\" \"b\" }}{{ $e }}{{ end }}", "ab"),
            ("{{ range $k, $v := dict \"b\" 2 \"a\" 1 }}{{ $k }}={{ $v }};{{ end }}", "a=1;b=2;"),
            ("{{ range list }}x{{ else }}none{{ end }}", "none"),
            ("{{ range $i, $e := until 5 }}{{ if eq $i 2 }}{{ break }}{{ end }}{{ $e }}{{ end }}", "01"),
            // split is Go's strings.Split(s, sep) in Traefik (not sprig's).
            ("{{ range split (env \"HOSTS\") \",\" }}Host(`{{ . }}`) {{ end }}", "Host(`a.test`) Host(`b.test`) "),
            ("{{ splitList \",\" \"a,,b\" | len }}", "3"),
            ("{{ join \"|\" (list \"a\" \"b\") }}", "a|b"),
            // env, default, and their pipelines.
            ("{{ env \"DOMAIN\" }}", "example.com"),
            ("{{ env \"NOPE\" }}", ""),
            ("{{ env \"EMPTY\" | default \"d\" }}", "d"),
            ("{{ default \"d\" (env \"DOMAIN\") }}", "example.com"),
            ("{{ expandenv \"x-$DOMAIN-${DOMAIN}\" }}", "x-example.com-example.com"),
            // strings
            ("{{ \"Ab\" | upper }}{{ \"Ab\" | lower }}", "ABab"),
            ("{{ trimPrefix \"www.\" \"www.a.test\" }}", "a.test"),
            ("{{ trimSuffix \".test\" \"a.test\" }}", "a"),
            ("{{ trimAll \"$\" \"$5.00$\" }}", "5.00"),
            ("{{ trim \"  a \" }}", "a"),
            ("{{ \"I Am\" | replace \" \" \"-\" }}", "I-Am"),
            ("{{ quote \"a\" }} {{ squote \"a\" }}", "\"a\" 'a'"),
            ("{{ title \"hello world\" }}", "Hello World"),
            ("{{ contains \"cat\" \"catch\" }} {{ hasPrefix \"ca\" \"cat\" }} {{ hasSuffix \"x\" \"cat\" }}", "true true false"),
            ("{{ repeat 3 \"ab\" }}", "ababab"),
            ("{{ substr 0 3 \"hello\" }} {{ trunc 2 \"hello\" }} {{ trunc -2 \"hello\" }}", "hel he lo"),
            ("{{ cat \"a\" 1 \"b\" }}", "a 1 b"),
            ("{{ nospace \"a b c\" }}", "abc"),
            ("{{ \"a\\nb\" | indent 2 }}", "  a\n  b"),
            ("{{ \"a\" | nindent 2 }}", "\n  a"),
            ("{{ normalize \"whoami_edge.1\" }}", "whoami-edge-1"),
            ("{{ b64enc \"user:pass\" }} {{ b64dec \"dXNlcjpwYXNz\" }}", "dXNlcjpwYXNz user:pass"),
            ("{{ sha256sum \"\" }}", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            ("{{ regexReplaceAll \"a(x*)b\" \"-ab-axxb-\" \"${1}W\" }}", "-W-xxW-"),
            ("{{ regexMatch \"^[a-z]+$\" \"abc\" }}", "true"),
            // numbers and lists
            ("{{ add 1 2 3 }} {{ sub 5 2 }} {{ mul 2 3 }} {{ div 7 2 }} {{ mod 7 2 }} {{ add1 1 }}", "6 3 6 3 1 2"),
            ("{{ max 1 5 3 }} {{ min 4 2 }} {{ atoi \"42\" }} {{ int \"7\" }}", "5 2 42 7"),
            ("{{ untilStep 0 10 3 }}", "[0 3 6 9]"),
            ("{{ seq 3 }}|{{ seq 2 4 }}|{{ seq 5 3 }}", "1 2 3|2 3 4|5 4 3"),
            ("{{ list 1 \"a\" }} {{ first (list 1 2) }} {{ last (list 1 2) }} {{ rest (list 1 2 3) }}", "[1 a] 1 2 [2 3]"),
            ("{{ has 2 (list 1 2) }} {{ uniq (list 1 1 2) }} {{ compact (list \"\" \"a\") }}", "true [1 2] [a]"),
            ("{{ $d := dict \"k\" \"v\" }}{{ get $d \"k\" }} {{ hasKey $d \"x\" }} {{ $d.k }} {{ keys $d }}", "v false v [k]"),
            ("{{ index (list \"a\" \"b\") 1 }} {{ index (dict \"k\" \"v\") \"k\" }}", "b v"),
            // text/template itself
            ("{{ if eq (env \"DOMAIN\") \"example.com\" }}y{{ else }}n{{ end }}", "y"),
            ("{{ if env \"NOPE\" }}a{{ else if env \"DOMAIN\" }}b{{ else }}c{{ end }}", "b"),
            ("{{ with env \"DOMAIN\" }}{{ . }}{{ else }}none{{ end }}", "example.com"),
            ("{{ $x := 1 }}{{ $x = add $x 1 }}{{ $x }}", "2"),
            ("{{ and 1 0 }} {{ or 0 \"\" 3 }} {{ not true }}", "0 3 false"),
            ("{{ printf \"%s:%d %q %05.1f %-3s|\" \"a\" 8 \"b\" 2.25 \"c\" }}", "a:8 \"b\" 002.2 c  |"),
            ("{{ print \"a\" 1 2 \"b\" }}", "a1 2b"),
            ("{{ len \"abc\" }} {{ len (list 1 2) }}", "3 2"),
            ("{{ lt 1 2 }} {{ ge \"b\" \"a\" }} {{ ne 1 2 }} {{ eq 1 2 3 1 }}", "true true true true"),
            ("{{ ternary \"y\" \"n\" true }} {{ coalesce \"\" \"x\" }} {{ empty \"\" }}", "y x true"),
            ("{{ . }} {{ $ }}", "false false"),
            ("{{ 1.5 }} {{ 1e6 }} {{ 0x10 }} {{ 'a' }}", "1.5 1e+06 16 97"),
            ("a  {{- 1 -}}  b {{/* comment */}}c", "a1b c"),
            ("{{ \"}}\" }}", "}}"),
        ];
        let mut failed = Vec::new();
        for (t, want) in rows {
            match render(t, &env) {
                Ok(got) if got == *want => {}
                other => failed.push(format!("{t}\n  want {want:?}\n  got  {other:?}")),
            }
        }
        assert!(failed.is_empty(), "{}", failed.join("\n"));
    }

    /// What Go refuses: parse errors (an undefined function, a missing end, an empty
    /// action, a field of the data `false`) and run errors (`fail`, `required`, a wrong
    /// argument) fail the file, with the action in the message.
    #[test]
    fn errors() {
        let rows: &[(&str, &str)] = &[
            ("{{ nope }}", "\"nope\" not defined"),
            ("{{ if false }}{{ nope }}{{ end }}", "\"nope\" not defined"),
            ("{{ range until 2 }}", "has no {{end}}"),
            ("{{ }}", "missing value"),
            ("{{ .Name }}", "can't evaluate field Name"),
            ("{{ fail \"no domain\" }}", "no domain"),
            (
                "{{ required \"DOMAIN is required\" (env \"NOPE\") }}",
                "DOMAIN is required",
            ),
            ("{{ $x }}", "undefined variable"),
            ("{{ eq 1 \"1\" }}", "incompatible types"),
            ("{{ range \"abc\" }}{{ end }}", "can't iterate"),
            ("{{ \"a\" \"b\" }}", "non-function"),
        ];
        for (t, want) in rows {
            match render(t, &env) {
                Err(e) => assert!(e.contains(want), "{t}: {e}"),
                Ok(o) => panic!("{t}: rendered {o:?}"),
            }
        }
    }
}

/// A provider's `defaultRule`, as Traefik renders it for a container: `.Name`,
/// `.ContainerName` and `.Labels` (a `map[string]string`: a missing label is ""), sprig's
/// functions and pipelines; a field the data does not have is an error, as on Go's struct.
mod default_rule {
    use super::super::{check, render_default_rule};
    use std::collections::BTreeMap;

    #[test]
    fn rendered_for_a_container() {
        let labels: BTreeMap<String, String> = [("app.domain", "example.com"), ("a", "1")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        for (t, want) in [
            ("Host(`{{ normalize .Name }}`)", "Host(`my-app-web`)"),
            ("Host(`{{ .Name | normalize }}.x`)", "Host(`my-app-web.x`)"),
            ("Host(`{{ lower .ContainerName }}`)", "Host(`app_web_1`)"),
            (
                "Host(`{{ index .Labels \"app.domain\" }}`)",
                "Host(`example.com`)",
            ),
            ("Host(`{{ index .Labels \"nope\" }}.x`)", "Host(`.x`)"),
            (
                "{{- if index .Labels \"a\" }}Host(`a`){{ else }}Host(`b`){{ end -}}",
                "Host(`a`)",
            ),
            (
                "Host(`{{ trimSuffix \".com\" (index .Labels \"app.domain\") }}`)",
                "Host(`example`)",
            ),
        ] {
            let got = render_default_rule(t, "my_app_web", "App_Web_1", &labels);
            assert_eq!(got.as_deref(), Ok(want), "{t}");
        }
        let e = render_default_rule("Host(`{{ .Toto }}`)", "n", "c", &labels).unwrap_err();
        assert!(e.contains("can't evaluate field Toto"), "{e}");
    }

    #[test]
    fn checked_as_a_template_only() {
        // Traefik's MakeDefaultRuleTemplate parses the template; what it renders to is a
        // container's concern.
        assert!(check("Host(`{{ index .Labels \"app.domain\" }}`)").is_ok());
        assert!(check("Hots(`x`)").is_ok());
        assert!(check("Host(`{{ nope .Name }}`)").is_err());
        assert!(check("{{ if .Name }}").is_err());
    }
}
