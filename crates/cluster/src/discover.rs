//! Which process of how many this is, and where the coordinator listens.
//!
//! Sources, first match wins: the command-line flags; `OURO_PROCESS_ID`, `OURO_NUM_PROCESSES`,
//! `OURO_COORDINATOR`; a Cloud TPU's environment (GKE and queued resources set `TPU_WORKER_ID`
//! and `TPU_WORKER_HOSTNAMES` or `TPU_PROCESS_ADDRESSES`, multislice adds `MEGASCALE_*`); SLURM
//! (`SLURM_PROCID`, `SLURM_NTASKS`, `SLURM_STEP_NODELIST`, `SLURM_JOB_ID`, `SLURM_LOCALID`), only
//! when asked (`--slurm`, `OURO_SLURM=1`): a shell inside an allocation carries the job's
//! variables, and one `ouro train` there must not wait for peers that were never started; and,
//! on a TPU VM whose environment says nothing, the GCE metadata server (`agent-worker-number`,
//! `worker-network-endpoints`). Worker lists are ordered by process, so the first host is the
//! coordinator, as JAX's cluster detection also takes it.

use crate::error::{Error, Result};
use crate::metadata;

/// The port the coordinator's key-value service listens on unless told otherwise.
pub const DEFAULT_PORT: u16 = 8479;

/// The coordinator's port on Cloud TPU, the one JAX's Cloud TPU cluster uses: TPU VM setups
/// that open JAX's port for the workers open this one.
pub const TPU_PORT: u16 = 8476;

/// This process's place in the job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessSpec {
    /// 0-based; process 0 runs the coordinator.
    pub process_id: usize,
    /// Processes in the job.
    pub num_processes: usize,
    /// `host:port` of the coordinator's key-value service.
    pub coordinator: String,
    /// Where the figures came from, for the log.
    pub source: &'static str,
    /// This process's index among the job's processes on its host (`SLURM_LOCALID`), when
    /// several share a host and the scheduler says which one this is.
    pub local_id: Option<usize>,
}

/// What the command line said (each optional).
#[derive(Clone, Debug, Default)]
pub struct Flags {
    /// `--process-id`.
    pub process_id: Option<usize>,
    /// `--num-processes`.
    pub num_processes: Option<usize>,
    /// `--coordinator host[:port]`.
    pub coordinator: Option<String>,
    /// `--slurm`: take this process's place from SLURM's variables.
    pub slurm: bool,
}

/// Finds this process's place; `None` for a single-process job. `env` reads an environment
/// variable; `tpu_vm` allows asking the GCE metadata server (only sensible on a TPU VM).
pub fn discover(flags: &Flags, env: &dyn Fn(&str) -> Option<String>, tpu_vm: bool) -> Result<Option<ProcessSpec>> {
    if flags.process_id.is_some() || flags.num_processes.is_some() || flags.coordinator.is_some() {
        return explicit(
            "the command line (--process-id, --num-processes, --coordinator)",
            flags.process_id,
            flags.num_processes,
            flags.coordinator.clone(),
        );
    }
    let var = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    if var("OURO_PROCESS_ID").is_some() || var("OURO_NUM_PROCESSES").is_some() || var("OURO_COORDINATOR").is_some() {
        return explicit(
            "the environment (OURO_PROCESS_ID, OURO_NUM_PROCESSES, OURO_COORDINATOR)",
            var("OURO_PROCESS_ID").map(|v| number("OURO_PROCESS_ID", &v)).transpose()?,
            var("OURO_NUM_PROCESSES").map(|v| number("OURO_NUM_PROCESSES", &v)).transpose()?,
            var("OURO_COORDINATOR"),
        );
    }
    if let (Some(worker), Some(hosts)) =
        (var("TPU_WORKER_ID"), var("TPU_PROCESS_ADDRESSES").or_else(|| var("TPU_WORKER_HOSTNAMES")))
    {
        let workers: Vec<String> = hosts.split(',').map(|h| h.trim().to_string()).collect();
        return tpu_slices("the Cloud TPU environment (TPU_WORKER_ID, TPU_WORKER_HOSTNAMES)", &worker, workers, &var);
    }
    let slurm = flags.slurm || var("OURO_SLURM").is_some_and(|v| v != "0");
    if let (true, Some(id), Some(count), Some(nodes)) = (
        slurm,
        var("SLURM_PROCID"),
        var("SLURM_NTASKS"),
        var("SLURM_STEP_NODELIST").or_else(|| var("SLURM_JOB_NODELIST")),
    ) {
        let count = number("SLURM_NTASKS", &count)?;
        if count == 1 {
            return Ok(None);
        }
        // A port in the top 4096 that depends on the job, so jobs sharing a node do not collide.
        let port = match var("SLURM_JOB_ID") {
            Some(job) => (number("SLURM_JOB_ID", &job)? % 4096 + 61440) as u16,
            None => DEFAULT_PORT,
        };
        let host = first_slurm_host(&nodes)?;
        let spec = checked(
            "SLURM (SLURM_PROCID, SLURM_NTASKS, SLURM_STEP_NODELIST)",
            number("SLURM_PROCID", &id)?,
            count,
            format!("{host}:{port}"),
        )?;
        let local_id = var("SLURM_LOCALID").map(|v| number("SLURM_LOCALID", &v)).transpose()?;
        return Ok(spec.map(|s| ProcessSpec { local_id, ..s }));
    }
    if !slurm && var("SLURM_NTASKS").is_some_and(|n| n.trim() != "1") && var("SLURM_PROCID").is_some() {
        tracing::info!(
            "SLURM_NTASKS is set: running as one process; pass --slurm (or OURO_SLURM=1) to join the job's other tasks"
        );
    }
    if tpu_vm {
        let base = var("GCE_METADATA_IP").unwrap_or_else(|| metadata::DEFAULT_HOST.to_string());
        if let Some(worker) = metadata::attribute(&base, "agent-worker-number")? {
            let endpoints = metadata::attribute(&base, "worker-network-endpoints")?.ok_or_else(|| {
                Error::Config("the TPU metadata has agent-worker-number but no worker-network-endpoints".into())
            })?;
            let workers = endpoints.split(',').map(endpoint_host).collect::<Result<Vec<_>>>()?;
            return tpu_slices("the TPU VM's metadata server", worker.trim(), workers, &var);
        }
    }
    Ok(None)
}

fn number(what: &str, text: &str) -> Result<usize> {
    text.trim().parse().map_err(|_| Error::Config(format!("{what} must be a non-negative integer, got {text:?}")))
}

/// `host` or `host:port`, the default port added.
fn with_port(address: &str) -> String {
    if address.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok()) {
        address.to_string()
    } else {
        format!("{address}:{DEFAULT_PORT}")
    }
}

fn explicit(
    source: &'static str,
    id: Option<usize>,
    count: Option<usize>,
    coordinator: Option<String>,
) -> Result<Option<ProcessSpec>> {
    let count = count.ok_or_else(|| Error::Config(format!("{source}: the number of processes is missing")))?;
    if count == 1 {
        return Ok(None);
    }
    let id = id.ok_or_else(|| Error::Config(format!("{source}: the process id is missing ({count} processes)")))?;
    let coordinator = coordinator.ok_or_else(|| {
        Error::Config(format!("{source}: the coordinator address (host[:port] of process 0) is missing"))
    })?;
    checked(source, id, count, with_port(&coordinator))
}

fn checked(
    source: &'static str,
    process_id: usize,
    num_processes: usize,
    coordinator: String,
) -> Result<Option<ProcessSpec>> {
    if num_processes == 0 {
        return Err(Error::Config(format!("{source}: the number of processes must be at least 1")));
    }
    if process_id >= num_processes {
        return Err(Error::Config(format!(
            "{source}: process id {process_id} is out of range for {num_processes} processes (ids are 0..{num_processes})"
        )));
    }
    Ok(Some(ProcessSpec { process_id, num_processes, coordinator, source, local_id: None }))
}

/// A TPU job of `MEGASCALE_NUM_SLICES` slices of `workers.len()` hosts each.
fn tpu_slices(
    source: &'static str,
    worker: &str,
    workers: Vec<String>,
    var: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<ProcessSpec>> {
    let in_slice = number("TPU_WORKER_ID", worker)?;
    let slices = var("MEGASCALE_NUM_SLICES").map(|v| number("MEGASCALE_NUM_SLICES", &v)).transpose()?.unwrap_or(1);
    let slice = var("MEGASCALE_SLICE_ID").map(|v| number("MEGASCALE_SLICE_ID", &v)).transpose()?.unwrap_or(0);
    let per_slice = workers.len();
    if in_slice >= per_slice {
        return Err(Error::Config(format!("{source}: worker {in_slice} is not among the {per_slice} workers listed")));
    }
    let coordinator = var("MEGASCALE_COORDINATOR_ADDRESS").unwrap_or_else(|| workers[0].clone());
    // The address may carry the TPU runtime's own port; the key-value service has its own.
    let host = coordinator.split(':').next().unwrap_or_default();
    if host.is_empty() {
        return Err(Error::Config(format!("{source}: the first worker's address is empty")));
    }
    let count = per_slice * slices;
    if count == 1 {
        return Ok(None);
    }
    checked(source, in_slice + slice * per_slice, count, format!("{host}:{TPU_PORT}"))
}

/// One entry of `worker-network-endpoints`: a host name, or the older `name:id:ip`.
fn endpoint_host(entry: &str) -> Result<String> {
    let parts: Vec<&str> = entry.trim().split(':').collect();
    match parts.as_slice() {
        [host] => Ok(host.to_string()),
        [_, _, ip] => Ok(ip.to_string()),
        _ => Err(Error::Config(format!("unsupported worker-network-endpoints entry {entry:?}"))),
    }
}

/// The first host of a SLURM node list: `node001`, `node001,b`, `node[001-016],b`, `n[3,7-9]`.
fn first_slurm_host(list: &str) -> Result<String> {
    let list = list.trim();
    let cut = list.find([',', '[']).unwrap_or(list.len());
    if cut == list.len() || list.as_bytes()[cut] == b',' {
        return Ok(list[..cut].to_string());
    }
    let (prefix, range) = (&list[..cut], &list[cut + 1..]);
    let end =
        range.find([',', '-', ']']).ok_or_else(|| Error::Config(format!("unreadable SLURM node list {list:?}")))?;
    Ok(format!("{prefix}{}", &range[..end]))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k: &str| map.get(k).cloned()
    }

    type Env<'a> = Vec<(&'a str, &'a str)>;
    type Place = Option<(usize, usize, String)>;

    fn spec(id: usize, n: usize, coordinator: &str) -> (usize, usize, String) {
        (id, n, coordinator.to_string())
    }

    #[test]
    fn every_source_gives_the_process_and_the_coordinator() {
        let flags = |id, n, c: &str| Flags {
            process_id: Some(id),
            num_processes: Some(n),
            coordinator: Some(c.into()),
            slurm: false,
        };
        let slurm = Flags { slurm: true, ..Flags::default() };
        let cases: Vec<(&str, Flags, Env, Place)> = vec![
            ("nothing", Flags::default(), vec![], None),
            ("flags", flags(1, 2, "10.0.0.5"), vec![], Some(spec(1, 2, "10.0.0.5:8479"))),
            ("flags win over env", flags(0, 4, "h:9000"), vec![("OURO_PROCESS_ID", "3")], Some(spec(0, 4, "h:9000"))),
            ("one process", Flags { num_processes: Some(1), ..Flags::default() }, vec![], None),
            (
                "ouro env",
                Flags::default(),
                vec![("OURO_PROCESS_ID", "2"), ("OURO_NUM_PROCESSES", "3"), ("OURO_COORDINATOR", "c")],
                Some(spec(2, 3, "c:8479")),
            ),
            (
                "gke tpu",
                Flags::default(),
                vec![("TPU_WORKER_ID", "3"), ("TPU_WORKER_HOSTNAMES", "w0.svc,w1.svc,w2.svc,w3.svc")],
                Some(spec(3, 4, "w0.svc:8476")),
            ),
            (
                "tpu process addresses with ports",
                Flags::default(),
                vec![("TPU_WORKER_ID", "1"), ("TPU_PROCESS_ADDRESSES", "10.1.0.1:8471,10.1.0.2:8471")],
                Some(spec(1, 2, "10.1.0.1:8476")),
            ),
            (
                "multislice",
                Flags::default(),
                vec![
                    ("TPU_WORKER_ID", "1"),
                    ("TPU_WORKER_HOSTNAMES", "a,b"),
                    ("MEGASCALE_NUM_SLICES", "2"),
                    ("MEGASCALE_SLICE_ID", "1"),
                    ("MEGASCALE_COORDINATOR_ADDRESS", "coord:8080"),
                ],
                Some(spec(3, 4, "coord:8476")),
            ),
            (
                "single tpu host",
                Flags::default(),
                vec![("TPU_WORKER_ID", "0"), ("TPU_WORKER_HOSTNAMES", "localhost")],
                None,
            ),
            (
                "slurm",
                slurm.clone(),
                vec![
                    ("SLURM_PROCID", "5"),
                    ("SLURM_NTASKS", "8"),
                    ("SLURM_STEP_NODELIST", "gpu[007-010,12],login"),
                    ("SLURM_JOB_ID", "4097"),
                ],
                Some(spec(5, 8, "gpu007:61441")),
            ),
            (
                "slurm by OURO_SLURM",
                Flags::default(),
                vec![("OURO_SLURM", "1"), ("SLURM_PROCID", "1"), ("SLURM_NTASKS", "2"), ("SLURM_STEP_NODELIST", "n1")],
                Some(spec(1, 2, "n1:8479")),
            ),
            (
                "a slurm allocation alone is one process",
                Flags::default(),
                vec![("SLURM_PROCID", "5"), ("SLURM_NTASKS", "8"), ("SLURM_STEP_NODELIST", "gpu[007-010]")],
                None,
            ),
            (
                "slurm, one task",
                slurm.clone(),
                vec![("SLURM_PROCID", "0"), ("SLURM_NTASKS", "1"), ("SLURM_STEP_NODELIST", "n1")],
                None,
            ),
        ];
        for (name, flags, env, want) in cases {
            let got = discover(&flags, &env_of(&env), false).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(got.map(|s| (s.process_id, s.num_processes, s.coordinator)), want, "{name}");
        }
    }

    #[test]
    fn slurm_says_which_task_of_its_host_this_is() {
        let env = env_of(&[
            ("SLURM_PROCID", "3"),
            ("SLURM_NTASKS", "4"),
            ("SLURM_LOCALID", "1"),
            ("SLURM_STEP_NODELIST", "n[1-2]"),
        ]);
        let spec = discover(&Flags { slurm: true, ..Flags::default() }, &env, false).unwrap().unwrap();
        assert_eq!((spec.process_id, spec.local_id), (3, Some(1)));
        let flags = Flags { process_id: Some(1), num_processes: Some(2), coordinator: Some("h".into()), slurm: false };
        assert_eq!(discover(&flags, &env, false).unwrap().unwrap().local_id, None);
    }

    #[test]
    fn incomplete_or_inconsistent_settings_are_refused_by_name() {
        let cases: Vec<(Flags, Env, &str)> = vec![
            (Flags { process_id: Some(1), ..Flags::default() }, vec![], "the number of processes is missing"),
            (Flags { num_processes: Some(2), ..Flags::default() }, vec![], "the process id is missing"),
            (
                Flags { process_id: Some(0), num_processes: Some(2), coordinator: None, slurm: false },
                vec![],
                "coordinator address",
            ),
            (
                Flags { process_id: Some(2), num_processes: Some(2), coordinator: Some("h".into()), slurm: false },
                vec![],
                "process id 2 is out of range for 2 processes",
            ),
            (
                Flags::default(),
                vec![("OURO_PROCESS_ID", "one"), ("OURO_NUM_PROCESSES", "2")],
                "OURO_PROCESS_ID must be",
            ),
            (
                Flags::default(),
                vec![("TPU_WORKER_ID", "4"), ("TPU_WORKER_HOSTNAMES", "a,b")],
                "worker 4 is not among the 2",
            ),
        ];
        for (flags, env, want) in cases {
            let e = discover(&flags, &env_of(&env), false).unwrap_err().to_string();
            assert!(e.contains(want), "{e:?} should contain {want:?}");
        }
    }

    #[test]
    fn slurm_node_lists_and_tpu_endpoints() {
        for (list, first) in [("node001", "node001"), ("a,b", "a"), ("node[001-016],b", "node001"), ("n[3,7-9]", "n3")]
        {
            assert_eq!(first_slurm_host(list).unwrap(), first, "{list}");
        }
        assert_eq!(endpoint_host("t1v-n-0:0:10.130.0.5").unwrap(), "10.130.0.5");
        assert_eq!(endpoint_host("t1v-n-0").unwrap(), "t1v-n-0");
        assert!(endpoint_host("a:b").is_err());
    }
}
