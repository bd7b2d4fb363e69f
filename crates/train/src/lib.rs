//! TRM training: the train and eval steps traced into single compiled programs, with every
//! piece of state on the device.

pub mod aot;
pub mod bench;
pub mod checkpoint;
pub mod config;
pub mod cost;
pub mod curriculum;
pub mod flops;
pub mod gather;
pub mod import;
pub mod lock;
pub mod metrics;
pub mod preempt;
pub mod run;
pub mod state;
pub mod step;
pub mod target;
pub mod weights;

pub use config::TrainConfig;
pub use import::{Imported, import_weights};
pub use run::{RunOptions, Summary, train};
pub use state::{init_state, seed_key};
pub use step::{
    DataParallel, EvalStep, LossScale, OptimizerKind, StateLayout, StepConfig, StepGrads, StepWeights, TrainStep,
    eval_step, forward_backward, train_step,
};
