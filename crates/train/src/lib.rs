//! TRM training: the train and eval steps traced into single compiled programs, with every
//! piece of state on the device.

pub mod aot;
pub mod bench;
pub mod checkpoint;
pub mod config;
pub mod cost;
pub mod curriculum;
pub(crate) mod devices;
pub mod error;
pub mod flops;
pub mod gather;
pub mod grads;
pub mod import;
pub mod init;
pub mod lock;
pub mod metrics;
pub mod preempt;
pub mod run;
pub mod state;
pub mod step;
pub mod step_metrics;
pub mod target;
pub mod weights;

pub use config::TrainConfig;
pub use error::{Error, Result};
pub use grads::{StepGrads, StepWeights, forward_backward};
pub use import::{Imported, import_weights};
pub use init::{init_state, seed_key};
pub use ouro_optim::{OptimizerConfig, OptimizerKind};
pub use run::{RunOptions, Summary, train};
pub use state::{Constants, Key, StateLayout, TrainState};
pub use step::{DataParallel, EvalStep, LossScale, StepConfig, TrainStep, eval_step, train_step};
