//! The subset of TensorBoard's protobuf messages that ouro writes and reads.
//!
//! Declared by hand with `prost` derives so the build needs no `protoc`. Field numbers and
//! types are those of `tensorboard/compat/proto/{event,summary,histogram,tensor,
//! tensor_shape}.proto` (identical to TensorFlow's); fields ouro never uses are left out,
//! and prost skips them when decoding.

/// `tensorflow.DataType` value of a string tensor.
pub(crate) const DT_STRING: i32 = 7;

/// One record of an event file.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Event {
    #[prost(double, tag = "1")]
    pub wall_time: f64,
    #[prost(int64, tag = "2")]
    pub step: i64,
    #[prost(oneof = "event::What", tags = "3, 5")]
    pub what: Option<event::What>,
}

/// Nested types of [`Event`].
pub(crate) mod event {
    /// The `what` oneof; the other members (graphs, session logs, ...) are not declared,
    /// so an event holding one of them decodes with `what: None`.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub(crate) enum What {
        #[prost(string, tag = "3")]
        FileVersion(String),
        #[prost(message, tag = "5")]
        Summary(super::Summary),
    }
}

/// A set of tagged values logged at one step.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Summary {
    #[prost(message, repeated, tag = "1")]
    pub value: Vec<summary::Value>,
}

/// Nested types of [`Summary`].
pub(crate) mod summary {
    /// One tagged value.
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct Value {
        #[prost(string, tag = "1")]
        pub tag: String,
        #[prost(message, optional, tag = "9")]
        pub metadata: Option<super::SummaryMetadata>,
        #[prost(oneof = "value::Kind", tags = "2, 5, 8")]
        pub value: Option<value::Kind>,
    }

    /// Nested types of [`Value`].
    pub(crate) mod value {
        /// The `value` oneof, renamed to avoid `Value::Value` (images, audio and the obsolete histogram are not declared).
        #[derive(Clone, PartialEq, prost::Oneof)]
        pub(crate) enum Kind {
            #[prost(float, tag = "2")]
            SimpleValue(f32),
            #[prost(message, tag = "5")]
            Histo(super::super::HistogramProto),
            #[prost(message, tag = "8")]
            Tensor(super::super::TensorProto),
        }
    }
}

/// A histogram: bucket `i` covers `(bucket_limit[i-1], bucket_limit[i]]` and holds
/// `bucket[i]` values.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct HistogramProto {
    #[prost(double, tag = "1")]
    pub min: f64,
    #[prost(double, tag = "2")]
    pub max: f64,
    #[prost(double, tag = "3")]
    pub num: f64,
    #[prost(double, tag = "4")]
    pub sum: f64,
    #[prost(double, tag = "5")]
    pub sum_squares: f64,
    #[prost(double, repeated, packed = "true", tag = "6")]
    pub bucket_limit: Vec<f64>,
    #[prost(double, repeated, packed = "true", tag = "7")]
    pub bucket: Vec<f64>,
}

/// Says which TensorBoard plugin owns a tag's data.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct SummaryMetadata {
    #[prost(message, optional, tag = "1")]
    pub plugin_data: Option<summary_metadata::PluginData>,
    #[prost(string, tag = "2")]
    pub display_name: String,
    #[prost(string, tag = "3")]
    pub summary_description: String,
    /// `tensorboard.DataClass`; left unset (unknown) as TensorBoard's own text summaries do.
    #[prost(int32, tag = "4")]
    pub data_class: i32,
}

/// Nested types of [`SummaryMetadata`].
pub(crate) mod summary_metadata {
    /// The owning plugin and its private, plugin-defined configuration.
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct PluginData {
        #[prost(string, tag = "1")]
        pub plugin_name: String,
        #[prost(bytes = "vec", tag = "2")]
        pub content: Vec<u8>,
    }
}

/// A tensor; only the string representation is declared.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct TensorProto {
    /// `tensorflow.DataType` (an enum, encoded as a varint like `int32`).
    #[prost(int32, tag = "1")]
    pub dtype: i32,
    #[prost(message, optional, tag = "2")]
    pub tensor_shape: Option<TensorShapeProto>,
    #[prost(bytes = "vec", repeated, tag = "8")]
    pub string_val: Vec<Vec<u8>>,
}

/// A tensor's shape; no dimensions means a scalar.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct TensorShapeProto {
    #[prost(message, repeated, tag = "2")]
    pub dim: Vec<tensor_shape_proto::Dim>,
    #[prost(bool, tag = "3")]
    pub unknown_rank: bool,
}

/// Nested types of [`TensorShapeProto`].
pub(crate) mod tensor_shape_proto {
    /// One dimension.
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct Dim {
        #[prost(int64, tag = "1")]
        pub size: i64,
        #[prost(string, tag = "2")]
        pub name: String,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn file_version_event_matches_tensorboard_encoding() {
        // Bytes of `Event(wall_time=1.5, step=0, file_version="brain.Event:2")` as serialized
        // by the protobuf runtime TensorBoard 2.21 uses.
        let event = Event { wall_time: 1.5, step: 0, what: Some(event::What::FileVersion("brain.Event:2".into())) };
        let expected = b"\x09\x00\x00\x00\x00\x00\x00\xf8\x3f\x1a\x0dbrain.Event:2";
        assert_eq!(event.encode_to_vec(), expected);
    }
}
