use super::files::*;
use super::*;
use app::domain::spec::Sampling;
use serde_json::{json, Value};
use std::collections::HashMap;

fn item(id: &str, body: Value) -> DatasetItem {
    DatasetItem {
        custom_id: id.into(),
        url: "/v1/chat/completions".into(),
        body,
    }
}

fn endpoint(args: Option<&[&str]>, models: &[&str]) -> EndpointView {
    serde_json::from_value(json!({
        "id": 7, "name": "gpu box", "base_url": "http://127.0.0.1:8000", "simulated": false, "builtin": false,
        "models": [], "checked_at": null,
        "launch_args": args.map(|a| a.iter().map(|s| s.to_string()).collect::<Vec<_>>()),
        "launch_models": models,
    }))
    .expect("an endpoint view")
}

const BATCH: &[&str] = &["vllm", "run-batch", "-i", "{input}", "-o", "{output}", "--model", "{model}"];

#[test]
fn a_batch_body_has_the_run_model_and_sampling_and_no_streaming() {
    let it = item(
        "a",
        json!({"model": "other", "messages": [{"role": "user", "content": "hi"}], "stream": true,
               "stream_options": {"include_usage": true}, "max_completion_tokens": 900}),
    );
    let body = batch_body(
        &it,
        "m",
        &Sampling {
            max_tokens: Some(64),
            temperature: Some(0.0),
        },
    );
    assert_eq!(
        body,
        json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 64, "temperature": 0.0})
    );
    let kept = batch_body(&it, "m", &Sampling::default());
    assert_eq!(kept["max_completion_tokens"], 900, "no override: the item's own limit stays");
}

#[test]
fn an_input_line_is_an_openai_batch_request() {
    let line = input_line("a~2", &item("a", json!({"messages": []})), "m", &Sampling::default());
    let v: Value = serde_json::from_str(&line).expect("json");
    assert_eq!(
        v,
        json!({"custom_id": "a~2", "method": "POST", "url": "/v1/chat/completions", "body": {"messages": [], "model": "m"}})
    );
    assert!(!line.contains('\n'), "one line");
}

#[test]
fn a_planned_id_gives_back_its_place_in_the_run() {
    let items = [item("a", json!({})), item("b", json!({}))];
    let positions: HashMap<&str, usize> = items.iter().enumerate().map(|(i, it)| (it.custom_id.as_str(), i)).collect();
    assert_eq!(plan_index("a", &positions, 5), Some(0));
    assert_eq!(plan_index("b", &positions, 5), Some(1));
    assert_eq!(plan_index("a~2", &positions, 5), Some(2));
    assert_eq!(plan_index("a~3", &positions, 5), Some(4));
    assert_eq!(plan_index("b~3", &positions, 5), None, "past the run's requests");
    assert_eq!(plan_index("a~1", &positions, 5), None, "the first pass has no suffix");
    assert_eq!(plan_index("a~02", &positions, 5), None, "not an id the plan makes");
    assert_eq!(plan_index("a~", &positions, 5), None);
    assert_eq!(plan_index("c", &positions, 5), None, "not in the dataset");
}

#[tokio::test]
async fn the_input_cycles_the_dataset_and_every_line_maps_back_to_its_place() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("in.jsonl");
    let items = [item("a", json!({"messages": []})), item("b", json!({"messages": []}))];
    let mut spec: RunSpec = app::domain::spec::LaunchForm {
        endpoint_id: "1".into(),
        dataset_id: "1".into(),
        model: "m".into(),
        requests: "5".into(),
        kind: "offline".into(),
        ..Default::default()
    }
    .parse()
    .expect("a valid offline spec");
    spec.sampling.max_tokens = Some(16);
    assert_eq!(write_input(&path, &items, &spec).await.expect("written"), 5);
    let text = std::fs::read_to_string(&path).expect("read");
    let ids: Vec<String> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).expect("json")["custom_id"]
                .as_str()
                .expect("id")
                .to_string()
        })
        .collect();
    assert_eq!(ids, ["a", "b", "a~2", "b~2", "a~3"]);
    let positions: HashMap<&str, usize> = items.iter().enumerate().map(|(i, it)| (it.custom_id.as_str(), i)).collect();
    for (n, id) in ids.iter().enumerate() {
        assert_eq!(plan_index(id, &positions, 5), Some(n as u32), "{id}");
    }
    assert!(text.lines().all(|l| l.contains("\"max_tokens\":16")));
}

#[test]
fn only_a_batch_list_with_the_model_listed_runs_an_offline_job() {
    let ok = endpoint(Some(BATCH), &["m"]);
    assert_eq!(batch_template(&ok, "m").map(<[String]>::len), Ok(BATCH.len()));
    let e = batch_template(&endpoint(None, &[]), "m").expect_err("not managed");
    assert!(e.contains(NEEDS_BATCH_LIST) && e.contains("no launch list"), "{e}");
    let server = endpoint(Some(&["vllm", "serve", "{model}", "--port", "{port}"]), &["m"]);
    let e = batch_template(&server, "m").expect_err("a server's list");
    assert!(
        e.contains("vllm run-batch -i {input} -o {output} --model {model}") && e.contains("vllm serve"),
        "{e}"
    );
    let e = batch_template(&ok, "other").expect_err("not listed");
    assert!(e.contains("'other'") && e.contains("(m)"), "{e}");
}

#[test]
fn missing_and_bad_lines_are_noted() {
    let mut job = JobTiming::default();
    Stored {
        stored: 8,
        failed: 1,
        unknown: 1,
        bad: 2,
        problems: Some("line 3: not JSON".into()),
        total: 10,
    }
    .note(&mut job);
    assert_eq!(job.notes.len(), 3);
    assert!(job.notes[0].starts_with("2 of the 10 requests have no line"), "{:?}", job.notes);
    assert!(job.notes[1].contains("line 3: not JSON"));
    let mut clean = JobTiming::default();
    Stored {
        stored: 10,
        total: 10,
        ..Default::default()
    }
    .note(&mut clean);
    assert!(clean.notes.is_empty());
}

#[tokio::test]
async fn a_growing_file_is_counted_by_what_was_added() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("out.jsonl");
    let mut counter = LineCounter::new(&path);
    assert_eq!(counter.count().await, 0, "no file yet");
    std::fs::write(&path, "a\nb\npartial").expect("write");
    assert_eq!(counter.count().await, 2);
    let mut f = std::fs::OpenOptions::new().append(true).open(&path).expect("open");
    std::io::Write::write_all(&mut f, b" line\nc\n").expect("append");
    assert_eq!(counter.count().await, 4);
}

#[test]
fn an_exit_is_named_by_its_code_or_signal() {
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(exit_word(ExitStatus::from_raw(0)), "exit 0");
    assert_eq!(exit_word(ExitStatus::from_raw(3 << 8)), "exit 3");
    assert_eq!(exit_word(ExitStatus::from_raw(9)), "killed by signal 9");
}
