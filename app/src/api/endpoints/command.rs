//! Managed launch commands: an admin-written argument list, run without a shell. Placeholders
//! (`{model}`, `{port}`, `{util}`, `{max_model_len}`, `{max_num_seqs}`, `{eager}`, and for an
//! offline batch job `{input}` and `{output}`) are whole arguments, replaced by whole arguments,
//! so a model name is always exactly one argument whatever characters it holds. Pure: checked
//! here when an admin stores a command, rendered by the server's launcher for each start.
//!
//! Two kinds of list: one that starts a server (`vllm serve`: needs `{model}` and `{port}`), and
//! one that runs an offline batch job (`vllm run-batch`: has `{input}`, needs `{output}` and
//! `{model}`, no port since nothing listens).

use crate::domain::startup::EngineKnobs;

/// The placeholders a command may hold, each as an argument of its own.
pub const PLACEHOLDERS: [&str; 8] = [
    "{model}",
    "{port}",
    "{util}",
    "{max_model_len}",
    "{max_num_seqs}",
    "{eager}",
    "{input}",
    "{output}",
];

/// A command that uses every placeholder of a server's start.
pub const EXAMPLE: &str =
    "vllm serve {model} --port {port} --gpu-memory-utilization {util} --max-model-len {max_model_len} --max-num-seqs {max_num_seqs} {eager}";

/// An offline batch job's command: `{input}` and `{output}` are the job's JSONL files (written
/// and read by Bakeoff in a fresh temporary directory).
pub const BATCH_EXAMPLE: &str =
    "vllm run-batch -i {input} -o {output} --model {model} --gpu-memory-utilization {util} --max-model-len {max_model_len} --max-num-seqs {max_num_seqs} {eager}";

const MAX_ARGS: usize = 256;
const MAX_ARG_LEN: usize = 4096;
/// The longest model name accepted in an endpoint's list.
pub const MAX_MODEL_LEN: usize = 256;

/// A one-line command as typed in the page (or the REST API's `launch_template`), split on
/// whitespace into arguments. No quoting rules: a shell never sees it. An argument with a space
/// in it needs the REST API's `launch_args` list.
pub fn split_template(line: &str) -> Vec<String> {
    line.split_whitespace().map(str::to_string).collect()
}

/// The models typed in the page: one per line or comma-separated.
pub fn split_models(text: &str) -> Vec<String> {
    text.split(['\n', ','])
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(str::to_string)
        .collect()
}

/// An offline batch job's list (it has `{input}`): runs `vllm run-batch`, not a server.
pub fn is_batch(args: &[String]) -> bool {
    args.iter().any(|a| a == "{input}")
}

/// Check an argument list: a program first, placeholders only as whole arguments, and at least
/// `{model}` and `{port}` (the server must load the run's model and listen where Bakeoff looks),
/// or, for an offline batch job (`{input}`), `{output}` and `{model}`.
pub fn check_args(args: &[String]) -> Result<(), String> {
    let Some(program) = args.first() else {
        return Err(format!("give the command that starts the server, e.g. {EXAMPLE}"));
    };
    if args.len() > MAX_ARGS {
        return Err(format!("at most {MAX_ARGS} arguments"));
    }
    for arg in args {
        if arg.is_empty() {
            return Err("an argument is empty".into());
        }
        if arg.len() > MAX_ARG_LEN {
            return Err(format!("an argument is longer than {MAX_ARG_LEN} bytes"));
        }
        if arg.chars().any(char::is_control) {
            return Err("an argument holds a control character (a line break or tab?)".into());
        }
    }
    if PLACEHOLDERS.iter().any(|p| program.contains(p)) {
        return Err(format!(
            "the program ('{program}') must be written out: placeholders go in the arguments after it"
        ));
    }
    for arg in &args[1..] {
        if PLACEHOLDERS.contains(&arg.as_str()) {
            continue;
        }
        if let Some(p) = PLACEHOLDERS.iter().find(|p| arg.contains(*p)) {
            let hint = match arg.split_once(*p) {
                Some((flag, "")) if flag.ends_with('=') && flag.len() > 1 => {
                    format!("write `{arg}` as two arguments, `{}` `{p}`", flag.trim_end_matches('='))
                }
                _ => format!("put {p} in an argument of its own"),
            };
            return Err(format!("'{arg}': a placeholder must be a whole argument: {hint}"));
        }
        if is_placeholder_like(arg) {
            return Err(format!(
                "unknown placeholder '{arg}'; the placeholders are {}",
                PLACEHOLDERS.join(", ")
            ));
        }
    }
    let has = |p: &str| args.iter().any(|a| a == p);
    if is_batch(args) {
        for needed in ["{output}", "{model}"] {
            if !has(needed) {
                return Err(format!(
                    "an offline batch command (it has {{input}}) needs {needed} as an argument, e.g. {BATCH_EXAMPLE}"
                ));
            }
        }
        return Ok(());
    }
    if has("{output}") {
        return Err(format!(
            "{{output}} belongs to an offline batch command, which also needs {{input}}, e.g. {BATCH_EXAMPLE}; a server's command has neither, e.g. {EXAMPLE}"
        ));
    }
    for needed in ["{model}", "{port}"] {
        if !has(needed) {
            return Err(format!(
                "the command needs {needed} as an argument, e.g. {EXAMPLE} (or, for an offline batch job, {BATCH_EXAMPLE})"
            ));
        }
    }
    Ok(())
}

/// `{name}` with a lower-case identifier inside: meant as a placeholder.
fn is_placeholder_like(arg: &str) -> bool {
    arg.strip_prefix('{')
        .and_then(|a| a.strip_suffix('}'))
        .is_some_and(|inner| !inner.is_empty() && inner.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
}

/// Check the models a managed endpoint may be started with (the names as the server loads
/// them); returns them without duplicates.
pub fn check_models(models: &[String]) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for m in models.iter().map(|m| m.trim()).filter(|m| !m.is_empty()) {
        if m.chars().count() > MAX_MODEL_LEN {
            return Err(format!("a model name is longer than {MAX_MODEL_LEN} characters"));
        }
        if m.chars().any(char::is_control) {
            return Err("a model name holds a control character".into());
        }
        if m.starts_with('-') {
            return Err(format!("'{m}' starts with '-', which the server would read as an option"));
        }
        if !out.iter().any(|o| o == m) {
            out.push(m.to_string());
        }
    }
    if out.is_empty() {
        return Err("list the models this endpoint may be started with (runs may use only these), e.g. google/gemma-3-4b-it".into());
    }
    Ok(out)
}

/// The arguments for one start: each placeholder replaced by exactly one argument (`{eager}` by
/// `--enforce-eager`, or by nothing).
pub fn render(args: &[String], model: &str, port: u16, k: &EngineKnobs) -> Vec<String> {
    render_with(args, model, port, k, None)
}

/// The arguments for one offline batch job: as [`render`], with `{input}` and `{output}` the
/// job's files (each one argument, whatever the path holds).
pub fn render_batch(args: &[String], model: &str, port: u16, k: &EngineKnobs, input: &str, output: &str) -> Vec<String> {
    render_with(args, model, port, k, Some((input, output)))
}

fn render_with(args: &[String], model: &str, port: u16, k: &EngineKnobs, files: Option<(&str, &str)>) -> Vec<String> {
    args.iter()
        .filter_map(|a| match (a.as_str(), files) {
            ("{model}", _) => Some(model.to_string()),
            ("{port}", _) => Some(port.to_string()),
            ("{util}", _) => Some(k.gpu_memory_utilization.to_string()),
            ("{max_model_len}", _) => Some(k.max_model_len.to_string()),
            ("{max_num_seqs}", _) => Some(k.max_num_seqs.to_string()),
            ("{eager}", _) => k.enforce_eager.then(|| "--enforce-eager".to_string()),
            ("{input}", Some((input, _))) => Some(input.to_string()),
            ("{output}", Some((_, output))) => Some(output.to_string()),
            (other, _) => Some(other.to_string()),
        })
        .collect()
}

/// The arguments as one line for people to read (an argument with spaces or quotes is shown
/// in single quotes). For display only: nothing ever parses it back.
pub fn display(args: &[String]) -> String {
    args.iter()
        .map(|a| {
            if !a.is_empty() && a.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./:=@%+,{}".contains(&b)) {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    fn knobs(eager: bool) -> EngineKnobs {
        EngineKnobs {
            gpu_memory_utilization: 0.85,
            max_model_len: 2048,
            max_num_seqs: 64,
            enforce_eager: eager,
        }
    }

    #[test]
    fn the_example_is_a_valid_command() {
        assert_eq!(check_args(&split_template(EXAMPLE)), Ok(()));
        assert_eq!(check_args(&split_template(BATCH_EXAMPLE)), Ok(()));
        assert!(is_batch(&split_template(BATCH_EXAMPLE)) && !is_batch(&split_template(EXAMPLE)));
    }

    #[test]
    fn an_offline_batch_command_needs_its_output_and_model_but_no_port() {
        assert_eq!(
            check_args(&v(&["vllm", "run-batch", "-i", "{input}", "-o", "{output}", "--model", "{model}"])),
            Ok(())
        );
        let e = check_args(&v(&["vllm", "run-batch", "-i", "{input}", "--model", "{model}"])).expect_err("no output");
        assert!(e.contains("{output}") && e.contains("run-batch"), "{e}");
        let e = check_args(&v(&["vllm", "run-batch", "-i", "{input}", "-o", "{output}"])).expect_err("no model");
        assert!(e.contains("{model}"), "{e}");
        let e = check_args(&v(&["vllm", "run-batch", "-i", "{input}", "-o={output}", "--model", "{model}"])).expect_err("embedded");
        assert!(e.contains("`-o` `{output}`"), "{e}");
    }

    #[test]
    fn an_output_without_an_input_is_neither_kind_of_command() {
        let e = check_args(&v(&["vllm", "serve", "{model}", "--port", "{port}", "-o", "{output}"])).expect_err("output alone");
        assert!(e.contains("{input}"), "{e}");
    }

    #[test]
    fn a_server_command_still_needs_its_port() {
        let e = check_args(&v(&["vllm", "serve", "{model}"])).expect_err("no port");
        assert!(e.contains("{port}") && e.contains("run-batch"), "names both kinds: {e}");
    }

    #[test]
    fn the_batch_files_are_whole_arguments() {
        let args = v(&[
            "vllm",
            "run-batch",
            "-i",
            "{input}",
            "-o",
            "{output}",
            "--model",
            "{model}",
            "{eager}",
        ]);
        let out = render_batch(&args, "m", 8000, &knobs(false), "/tmp/a b/in.jsonl", "/tmp/a b/out.jsonl");
        assert_eq!(
            out,
            v(&[
                "vllm",
                "run-batch",
                "-i",
                "/tmp/a b/in.jsonl",
                "-o",
                "/tmp/a b/out.jsonl",
                "--model",
                "m"
            ])
        );
        assert_eq!(render(&args, "m", 1, &knobs(false))[3], "{input}", "a server start has no files");
    }

    #[test]
    fn placeholders_are_replaced_by_whole_arguments() {
        let args = split_template("vllm serve {model} --port {port} --gpu-memory-utilization {util} --max-model-len {max_model_len} --max-num-seqs {max_num_seqs}");
        let out = render(&args, "x & touch pwned & wait", 8123, &knobs(false));
        assert_eq!(
            out,
            v(&[
                "vllm",
                "serve",
                "x & touch pwned & wait",
                "--port",
                "8123",
                "--gpu-memory-utilization",
                "0.85",
                "--max-model-len",
                "2048",
                "--max-num-seqs",
                "64"
            ])
        );
    }

    #[test]
    fn eager_is_one_flag_or_no_argument_at_all() {
        let args = v(&["vllm", "serve", "{model}", "--port", "{port}", "{eager}"]);
        assert_eq!(
            render(&args, "m", 1, &knobs(true)).last().map(String::as_str),
            Some("--enforce-eager")
        );
        let off = render(&args, "m", 1, &knobs(false));
        assert_eq!(off, v(&["vllm", "serve", "m", "--port", "1"]), "no empty argument is left behind");
    }

    #[test]
    fn a_placeholder_inside_a_larger_argument_is_refused_with_how_to_write_it() {
        let e = check_args(&v(&["vllm", "serve", "{model}", "--port={port}"])).expect_err("embedded");
        assert!(e.contains("whole argument") && e.contains("`--port` `{port}`"), "{e}");
        let e = check_args(&v(&["vllm", "serve", "models/{model}", "--port", "{port}"])).expect_err("embedded");
        assert!(e.contains("an argument of its own"), "{e}");
    }

    #[test]
    fn a_command_needs_a_program_a_model_and_a_port() {
        assert!(check_args(&[]).is_err());
        assert!(check_args(&v(&["vllm", "serve", "m", "--port", "{port}"]))
            .expect_err("no model")
            .contains("{model}"));
        assert!(check_args(&v(&["vllm", "serve", "{model}"]))
            .expect_err("no port")
            .contains("{port}"));
        assert!(check_args(&v(&["{model}", "{port}"])).expect_err("program").contains("program"));
        assert!(check_args(&v(&["vllm", "{model}", "{port}", "{gpu}"]))
            .expect_err("unknown")
            .contains("unknown placeholder"));
        assert!(check_args(&v(&["vllm", "{model}", "{port}", "a\nb"])).is_err());
    }

    #[test]
    fn braces_that_are_not_placeholders_are_plain_text() {
        let args = v(&["vllm", "serve", "{model}", "--port", "{port}", "--hf-overrides", "{\"a\": 1}"]);
        assert_eq!(check_args(&args), Ok(()));
        assert_eq!(render(&args, "m", 2, &knobs(false))[6], "{\"a\": 1}");
    }

    #[test]
    fn models_are_listed_trimmed_and_without_options() {
        assert_eq!(split_models("a/b\n c ,a/b,"), v(&["a/b", "c", "a/b"]));
        assert_eq!(check_models(&v(&["a/b", " c ", "a/b"])), Ok(v(&["a/b", "c"])));
        assert!(check_models(&v(&["--trust-remote-code"])).is_err());
        assert!(check_models(&v(&[" "])).is_err());
        assert!(check_models(&["x".repeat(MAX_MODEL_LEN + 1)]).is_err());
    }

    #[test]
    fn the_display_quotes_what_a_reader_could_misread() {
        assert_eq!(
            display(&v(&["vllm", "serve", "a & b", "--port", "80"])),
            "vllm serve 'a & b' --port 80"
        );
        assert_eq!(display(&v(&["it's"])), "'it'\\''s'");
    }
}
