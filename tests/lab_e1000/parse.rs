//! Reading what the guest scripts of the lab_e1000_* tests print: each step
//! logs to /tmp/logs/NAME.log, printed when the step ends after a
//! `### NAME rc=N` header.
#![allow(dead_code)]

/// The log of step `name` (empty if missing).
pub fn section<'a>(out: &'a str, name: &str) -> &'a str {
    let head = format!("### {name} rc=");
    let Some(start) = out.find(&head) else {
        return "";
    };
    let body = &out[start..];
    let body = &body[body.find('\n').map_or(body.len(), |i| i + 1)..];
    &body[..body.find("\n### ").map_or(body.len(), |i| i + 1)]
}

/// The exit status of step `name`.
pub fn rc(out: &str, name: &str) -> Option<i32> {
    let head = format!("### {name} rc=");
    let start = out.find(&head)? + head.len();
    out[start..].split_whitespace().next()?.parse().ok()
}

fn number_after(s: &str, prefix: &str) -> Option<u64> {
    s.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// `Sent N packets`.
pub fn sent(s: &str) -> Option<u64> {
    number_after(s, "Sent ")
}

/// `Received N packets`.
pub fn received(s: &str) -> Option<u64> {
    number_after(s, "Received ")
}

/// `Verified: ok, lost, out-of-order, corrupt`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verified {
    pub ok: u64,
    pub lost: u64,
    pub ooo: u64,
    pub corrupt: u64,
}

pub fn verified(s: &str) -> Option<Verified> {
    let line = s.lines().find_map(|l| l.strip_prefix("Verified: "))?;
    let n: Vec<u64> = line
        .split(',')
        .map(|p| p.split_whitespace().next().and_then(|v| v.parse().ok()))
        .collect::<Option<_>>()?;
    Some(Verified {
        ok: n[0],
        lost: n[1],
        ooo: n[2],
        corrupt: n[3],
    })
}

/// A hardware counter from `NIC counters: GPRC=.. GPTC=..`.
pub fn counter(s: &str, name: &str) -> Option<u64> {
    let line = s.lines().find_map(|l| l.strip_prefix("NIC counters: "))?;
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
}

/// `NAME=VALUE` printed by a script (`echo NAME=VALUE`).
pub fn value(out: &str, name: &str) -> Option<u64> {
    number_after(out, &format!("{name}="))
}

/// The shell functions every guest script starts with.
pub const PRELUDE: &str = r#"
PG=target/release/examples/pkt-gen
set -- $LAB_NICS; A=$1; B=$2; C=$3; D=$4
set -- $LAB_MACS; MA=$1; MB=$2; MC=$3; MD=$4
S=@conf:slots=4096
mkdir -p /tmp/logs
# bg NAME CMD...: run in the background, log to /tmp/logs/NAME.log
bg() { n=$1; shift; "$@" > /tmp/logs/$n.log 2>&1 & eval "pid_$n=$!"; }
# show NAME: print a finished step's status and log (at once, so a guest
# that later times out still shows what happened)
show() {
	echo '###' "$1 rc=$(cat /tmp/logs/$1.rc 2>/dev/null || echo none)"
	grep -v ' Mpps (' /tmp/logs/$1.log
}
# fg NAME CMD...: run, log, remember the status
fg() { n=$1; shift; "$@" > /tmp/logs/$n.log 2>&1; echo $? > /tmp/logs/$n.rc; show $n; }
# waitfor NAME SECS: wait for a bg step, TERM it after SECS (the status
# then is 143, or what it returns after handling TERM)
waitfor() {
	eval "p=\$pid_$1"; i=0
	while kill -0 $p 2>/dev/null && [ $i -lt $(($2 * 10)) ]; do sleep 0.1; i=$((i + 1)); done
	if kill -0 $p 2>/dev/null; then echo "step $1: still running after $2 s" >> /tmp/logs/$1.log; kill -TERM $p; fi
	wait $p; echo $? > /tmp/logs/$1.rc; show $1
}
# sig NAME SIGNAL: signal a bg step
sig() { eval "kill -$2 \$pid_$1"; }
report() { :; }
"#;
