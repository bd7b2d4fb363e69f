//! `xla.CompileOptionsProto`, encoded with prost-derive messages written here (no protoc).
//!
//! Only the fields ouro sets are declared; protobuf readers skip nothing they do not receive.
//! Field numbers are those of `xla/pjrt/proto/compile_options.proto` and `xla/xla.proto`.
//! Fields are declared in tag order so the encoding is canonical: the persistent compile cache
//! keys on these bytes.

/// `xla.DeviceAssignmentProto.ComputationDevice`: the device of each replica for one computation.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ComputationDeviceProto {
    #[prost(int64, repeated, tag = "1")]
    pub replica_device_ids: Vec<i64>,
}

/// `xla.DeviceAssignmentProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct DeviceAssignmentProto {
    #[prost(int32, tag = "1")]
    pub replica_count: i32,
    #[prost(int32, tag = "2")]
    pub computation_count: i32,
    #[prost(message, repeated, tag = "3")]
    pub computation_devices: Vec<ComputationDeviceProto>,
}

/// `xla.ExecutableBuildOptionsProto` (the subset ouro sets).
#[derive(Clone, PartialEq, prost::Message)]
pub struct ExecutableBuildOptionsProto {
    #[prost(int64, tag = "1")]
    pub device_ordinal: i64,
    #[prost(int64, tag = "4")]
    pub num_replicas: i64,
    #[prost(int64, tag = "5")]
    pub num_partitions: i64,
    #[prost(bool, tag = "6")]
    pub use_spmd_partitioning: bool,
    #[prost(message, optional, tag = "9")]
    pub device_assignment: Option<DeviceAssignmentProto>,
    #[prost(bool, tag = "10")]
    pub alias_passthrough_params: bool,
    #[prost(bool, repeated, tag = "12")]
    pub allow_spmd_sharding_propagation_to_output: Vec<bool>,
    #[prost(bool, repeated, tag = "18")]
    pub allow_spmd_sharding_propagation_to_parameters: Vec<bool>,
    #[prost(bool, tag = "19")]
    pub use_shardy_partitioner: bool,
    #[prost(int64, tag = "22")]
    pub process_index: i64,
    #[prost(int64, tag = "23")]
    pub process_count: i64,
}

/// `xla.OptionOverrideProto`: one XLA debug option set by name.
#[derive(Clone, PartialEq, prost::Message)]
pub struct OptionOverrideProto {
    #[prost(oneof = "OptionOverrideValue", tags = "1, 2, 3, 4")]
    pub value: Option<OptionOverrideValue>,
}

/// The value of an [`OptionOverrideProto`].
#[allow(missing_docs)]
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum OptionOverrideValue {
    #[prost(string, tag = "1")]
    String(String),
    #[prost(bool, tag = "2")]
    Bool(bool),
    #[prost(int64, tag = "3")]
    Int(i64),
    #[prost(double, tag = "4")]
    Double(f64),
}

/// `xla.CompileOptionsProto` (the subset ouro sets).
#[derive(Clone, PartialEq, prost::Message)]
pub struct CompileOptionsProto {
    /// Replicas, partitions, device assignment.
    #[prost(message, optional, tag = "3")]
    pub executable_build_options: Option<ExecutableBuildOptionsProto>,
    /// XLA debug options by name.
    #[prost(btree_map = "string, message", tag = "7")]
    pub env_option_overrides: std::collections::BTreeMap<String, OptionOverrideProto>,
}

/// How to compile: the replica/partition layout and XLA options.
#[derive(Clone, Debug, PartialEq)]
pub struct CompileOptions {
    /// Data-parallel replicas (each runs the whole program).
    pub num_replicas: usize,
    /// SPMD partitions (the program is split by its sharding annotations).
    pub num_partitions: usize,
    /// Let XLA's SPMD partitioner split the program (needed when `num_partitions > 1`).
    pub use_spmd_partitioning: bool,
    /// Partition with Shardy (`sdy.*` annotations) instead of GSPMD (`mhlo.sharding`).
    pub use_shardy_partitioner: bool,
    /// Global device ids, `[replica][partition]`; `None` lets the plugin choose.
    pub device_assignment: Option<Vec<Vec<i64>>>,
    /// Let the partitioner choose the sharding of each output (one flag per output, or one for all).
    pub allow_spmd_sharding_propagation_to_output: Vec<bool>,
    /// XLA debug options by name (`xla_cpu_enable_fast_math`, ...).
    pub env_option_overrides: Vec<(String, OptionOverrideValue)>,
}

impl Default for CompileOptions {
    fn default() -> CompileOptions {
        CompileOptions::single_device()
    }
}

impl CompileOptions {
    /// One replica, one partition.
    pub fn single_device() -> CompileOptions {
        CompileOptions {
            num_replicas: 1,
            num_partitions: 1,
            use_spmd_partitioning: false,
            use_shardy_partitioner: false,
            device_assignment: None,
            allow_spmd_sharding_propagation_to_output: Vec::new(),
            env_option_overrides: Vec::new(),
        }
    }

    /// SPMD over `device_ids` (one partition per device), partitioned by Shardy or GSPMD.
    pub fn spmd(device_ids: &[i64], shardy: bool) -> CompileOptions {
        CompileOptions {
            num_partitions: device_ids.len(),
            use_spmd_partitioning: true,
            use_shardy_partitioner: shardy,
            device_assignment: Some(vec![device_ids.to_vec()]),
            ..CompileOptions::single_device()
        }
    }

    /// The protobuf message.
    pub fn to_proto(&self) -> CompileOptionsProto {
        let device_assignment = self.device_assignment.as_ref().map(|by_replica| {
            let partitions = by_replica.first().map_or(0, Vec::len);
            DeviceAssignmentProto {
                replica_count: by_replica.len() as i32,
                computation_count: partitions as i32,
                computation_devices: (0..partitions)
                    .map(|p| ComputationDeviceProto {
                        replica_device_ids: by_replica.iter().map(|r| r.get(p).copied().unwrap_or(-1)).collect(),
                    })
                    .collect(),
            }
        });
        CompileOptionsProto {
            executable_build_options: Some(ExecutableBuildOptionsProto {
                device_ordinal: -1,
                num_replicas: self.num_replicas as i64,
                num_partitions: self.num_partitions as i64,
                use_spmd_partitioning: self.use_spmd_partitioning,
                device_assignment,
                alias_passthrough_params: false,
                allow_spmd_sharding_propagation_to_output: self.allow_spmd_sharding_propagation_to_output.clone(),
                allow_spmd_sharding_propagation_to_parameters: Vec::new(),
                use_shardy_partitioner: self.use_shardy_partitioner,
                process_index: 0,
                process_count: 0,
            }),
            env_option_overrides: self
                .env_option_overrides
                .iter()
                .map(|(k, v)| (k.clone(), OptionOverrideProto { value: Some(v.clone()) }))
                .collect(),
        }
    }

    /// The serialized `CompileOptionsProto` handed to `PJRT_Client_Compile`.
    pub fn to_bytes(&self) -> Vec<u8> {
        prost::Message::encode_to_vec(&self.to_proto())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_device_encoding_is_the_well_known_bytes_plus_device_ordinal() {
        // build_options { device_ordinal: -1, num_replicas: 1, num_partitions: 1 }
        let bytes = CompileOptions::single_device().to_bytes();
        let mut expected = vec![0x1A, 0x0F, 0x08];
        expected.extend([0xFF; 9]);
        expected.extend([0x01, 0x20, 0x01, 0x28, 0x01]);
        assert_eq!(bytes, expected);
    }

    #[test]
    fn device_assignment_is_by_computation() {
        let proto = CompileOptions::spmd(&[3, 1, 2, 0], true).to_proto();
        let build = proto.executable_build_options.unwrap();
        let da = build.device_assignment.unwrap();
        assert_eq!((da.replica_count, da.computation_count), (1, 4));
        let ids: Vec<i64> = da.computation_devices.iter().map(|c| c.replica_device_ids[0]).collect();
        assert_eq!(ids, [3, 1, 2, 0]);
        assert!(build.use_spmd_partitioning && build.use_shardy_partitioner);
        assert_eq!(build.num_partitions, 4);
    }
}
