//! The one run driver every module goes through.
//!
//! ```text
//! args file ─▶ flags + typed Params ─▶ connect ─▶ observe (current)
//!           ─▶ desired ─▶ plan(current, desired) ─▶ nothing to do? done
//!           ─▶ check mode? report and stop ─▶ apply ─▶ observe ─▶ verify
//! ```
//!
//! Mutation happens only in [`Module::apply`], and only this driver can
//! create the [`Mutation`] token that the backends' changing calls demand.
//! So "check mode changes nothing" holds by construction, not by each
//! module's care.

use crate::args::{self, AnsibleFlags};
use crate::doc::{self, ModuleDoc};
use crate::error::{Error, ErrorKind, Result};
use crate::spec::Spec;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use std::fmt::Debug;
use std::sync::atomic::{AtomicBool, Ordering};

/// Proof of being inside [`Module::apply`]. Backend calls that change the
/// host take `&Mutation`; only the run driver can make one.
#[derive(Debug)]
pub struct Mutation {
    _private: (),
}

/// Run `f` with a [`Mutation`] token outside a module run. For one caller
/// only: a binary started by libvirt as a hook (nat_forward), which puts
/// back what a module run already decided and saved, and has no task, no
/// check mode and no Ansible to answer.
pub fn as_hook<T>(f: impl FnOnce(&Mutation) -> T) -> T {
    f(&Mutation { _private: () })
}

/// What a plan has to say for itself.
pub trait Plan {
    /// True when current already matches desired.
    fn is_empty(&self) -> bool;
    /// Human-readable steps, in order: what was done (or would be).
    fn actions(&self) -> Vec<String>;
    /// Things the user should know that are not failures.
    fn warnings(&self) -> Vec<String> {
        Vec::new()
    }
}

/// One module: its types and the three steps that differ between modules.
pub trait Module {
    /// The module's name, as in `kvmnet.network.<NAME>`.
    const NAME: &'static str;
    const DOC: ModuleDoc;
    /// The task's options. `deny_unknown_fields`; doc comments become docs.
    type Params: DeserializeOwned + schemars::JsonSchema;
    /// What the module returns besides `changed`/`diff`; documented as RETURN.
    type Returns: Serialize + schemars::JsonSchema;
    /// A handle on the backend (a libvirt connection, a root dir...).
    type Host;
    /// The normalised, comparable state of what the module manages.
    type State: Clone + Debug + Serialize;
    type Plan: Plan;

    /// Open the backend. Read-only.
    fn connect(params: &Self::Params) -> Result<Self::Host>;
    /// Read the current state. Read-only.
    fn observe(host: &Self::Host, params: &Self::Params) -> Result<Self::State>;
    /// The state the task asks for (a pure function of params and current;
    /// `current` supplies what the user left to the backend). May consult
    /// the host read-only to validate references (devices, bridges).
    fn desired(
        host: &Self::Host,
        params: &Self::Params,
        current: &Self::State,
    ) -> Result<Self::State>;
    /// The steps from `current` to `desired`, or a refusal (a disruptive
    /// step not allowed). Pure.
    fn plan(
        params: &Self::Params,
        current: &Self::State,
        desired: &Self::State,
    ) -> Result<Self::Plan>;
    /// The text shown in diff mode for a state.
    fn render(state: &Self::State) -> String;
    /// What the diff shows a state of: "libvirt network 'default'".
    fn subject(params: &Self::Params) -> String;
    /// Carry out the plan. The only place the host changes.
    fn apply(
        host: &Self::Host,
        params: &Self::Params,
        plan: &Self::Plan,
        token: &Mutation,
    ) -> Result<()>;
    /// The return values for the final state (desired, in check mode).
    fn returns(params: &Self::Params, state: &Self::State, plan: &Self::Plan) -> Self::Returns;
}

/// Parse the args file's text into flags and typed params.
pub fn parse_args<M: Module>(text: &str) -> Result<(AnsibleFlags, M::Params)> {
    let raw: Value = serde_json::from_str(text).map_err(|e| {
        Error::invalid(format!("the module's argument file is not valid JSON: {e}"))
    })?;
    let Value::Object(raw) = raw else {
        return Err(Error::invalid(
            "the module's argument file must hold a JSON object",
        ));
    };
    let (flags, options) = args::split_flags(raw);
    let checked = args::check(M::NAME, &Spec::of::<M::Params>().options, options)?;
    // The checker has already given Ansible's wording for anything the
    // schema can express; what serde still rejects is reported as it is.
    let params = serde_json::from_value(checked)
        .map_err(|e| Error::invalid(format!("invalid arguments: {e}")))?;
    Ok((flags, params))
}

/// Run the module on an args file's text and return the result object.
pub fn run<M: Module>(text: &str) -> Value {
    match run_inner::<M>(text) {
        Ok(v) => v,
        Err(e) => failure(&e),
    }
}

fn failure(e: &Error) -> Value {
    json!({ "failed": true, "changed": false, "msg": e.msg, "error_kind": format!("{:?}", e.kind) })
}

fn run_inner<M: Module>(text: &str) -> Result<Value> {
    let (flags, params) = parse_args::<M>(text)?;
    // Read-only so far: connect, observe, desired. What they find missing
    // that an earlier task of the play makes (NotYet) fails a real run; a
    // dry run, where that task only predicted it, reports a change.
    let read = || -> Result<_> {
        let host = M::connect(&params)?;
        let current = M::observe(&host, &params)?;
        let desired = M::desired(&host, &params, &current)?;
        Ok((host, current, desired))
    };
    let (host, current, mut desired) = match read() {
        Err(e) if e.kind == ErrorKind::NotYet && flags.check_mode => {
            return Ok(json!({
                "changed": true,
                "warnings": [format!(
                    "{}: check mode assumes an earlier task makes it, so this task's changes cannot be shown",
                    e.msg
                )],
            }));
        }
        other => other?,
    };
    let plan = M::plan(&params, &current, &desired)?;
    let changed = !plan.is_empty();

    let mut out = Map::new();
    out.insert("changed".into(), json!(changed));
    if flags.diff && changed {
        let subject = M::subject(&params);
        out.insert(
            "diff".into(),
            json!({
                "before": M::render(&current),
                "after": M::render(&desired),
                "before_header": format!("{subject} (before)"),
                "after_header": format!("{subject} (after)"),
            }),
        );
    }
    let warnings = plan.warnings();
    if !warnings.is_empty() {
        out.insert("warnings".into(), json!(warnings));
    }

    if changed && !flags.check_mode {
        M::apply(&host, &params, &plan, &Mutation { _private: () })?;
        // Verify: a second run from the new state must have nothing to do.
        // Desired is derived again so that what the backend chose while
        // applying (names, addresses) is taken over, as a second run would.
        let after = M::observe(&host, &params)?;
        let verify =
            |e: Error| Error::verification(format!("after applying, verifying failed: {}", e.msg));
        let again = M::desired(&host, &params, &after).map_err(verify)?;
        let residual = M::plan(&params, &after, &again).map_err(verify)?;
        if !residual.is_empty() {
            return Err(Error::verification(format!(
                "after applying, the host still differs from the task: {}; differences: {}",
                residual.actions().join("; "),
                differences(&after, &again).join("; ")
            )));
        }
        desired = again;
    }
    let returns = serde_json::to_value(M::returns(&params, &desired, &plan))
        .map_err(|e| Error::bug(format!("serialising the result: {e}")))?;
    if let Value::Object(extra) = returns {
        out.extend(extra);
    }
    Ok(Value::Object(out))
}

/// Field paths where two states differ, with both values: what a failed
/// verify names.
pub fn differences<T: Serialize>(actual: &T, desired: &T) -> Vec<String> {
    let a = serde_json::to_value(actual).unwrap_or(Value::Null);
    let d = serde_json::to_value(desired).unwrap_or(Value::Null);
    let mut out = Vec::new();
    walk_differences("", &a, &d, &mut out);
    out
}

fn walk_differences(path: &str, a: &Value, d: &Value, out: &mut Vec<String>) {
    match (a, d) {
        (Value::Object(am), Value::Object(dm)) => {
            let keys: std::collections::BTreeSet<&String> = am.keys().chain(dm.keys()).collect();
            for k in keys {
                let null = Value::Null;
                let sub = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                walk_differences(
                    &sub,
                    am.get(k).unwrap_or(&null),
                    dm.get(k).unwrap_or(&null),
                    out,
                );
            }
        }
        (Value::Array(aa), Value::Array(da)) if aa.len() == da.len() => {
            for (i, (x, y)) in aa.iter().zip(da).enumerate() {
                walk_differences(&format!("{path}[{i}]"), x, y, out);
            }
        }
        _ if a != d => out.push(format!("{path}: desired {d}, actual {a}")),
        _ => {}
    }
}

static PRINTED: AtomicBool = AtomicBool::new(false);

/// Print the one result object; never twice, even if a panic follows.
fn emit(result: &Value) {
    if !PRINTED.swap(true, Ordering::SeqCst) {
        use std::io::Write;
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{result}");
        let _ = stdout.flush();
    }
}

/// The whole of a module binary's `main`.
pub fn main<M: Module>() -> ! {
    let argv: Vec<String> = std::env::args().collect();
    main_with::<M>(&argv)
}

/// [`main`] with the command line given: `[program, args-file]` or
/// `[program, "--doc"]`.
pub fn main_with<M: Module>(argv: &[String]) -> ! {
    // A panic is a bug, but Ansible must still get one JSON object.
    std::panic::set_hook(Box::new(|info| {
        let msg = match info.payload().downcast_ref::<&str>() {
            Some(s) => s.to_string(),
            None => info
                .payload()
                .downcast_ref::<String>()
                .cloned()
                .unwrap_or_default(),
        };
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        emit(&failure(&Error::bug(format!(
            "kvmnet bug: panic{at}: {msg}"
        ))));
    }));
    let result = match argv.get(1).map(String::as_str) {
        Some("--doc") => {
            print!(
                "{}",
                doc::python_module(
                    M::NAME,
                    &M::DOC,
                    &Spec::of::<M::Params>(),
                    &Spec::of::<M::Returns>()
                )
            );
            std::process::exit(0);
        }
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => run::<M>(&text),
            Err(e) => failure(&Error::invalid(format!(
                "cannot read the argument file {path}: {e}"
            ))),
        },
        None => failure(&Error::invalid(format!(
            "{} is an Ansible module: run it from a playbook, or as `{} <args.json>` (`--doc` prints its documentation)",
            M::NAME,
            M::NAME
        ))),
    };
    emit(&result);
    // Ansible ignores the exit code once it has JSON; shells and tests don't.
    std::process::exit(if result.get("failed") == Some(&Value::Bool(true)) {
        1
    } else {
        0
    })
}
