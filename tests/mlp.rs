//! The MLP example (examples/mlp.rs) learns its target on the CPU plugin.

#[path = "../examples/mlp.rs"]
#[allow(dead_code)]
mod mlp;

#[test]
fn the_mlp_reaches_its_target_loss_with_adam() {
    let runtime = ouro::runtime::Runtime::open_default(1).expect("CPU plugin");
    let outcome = mlp::train(&runtime, &mlp::Settings::default()).expect("training runs");
    assert!(outcome.first_loss > 0.1, "the task is not trivial: first loss {}", outcome.first_loss);
    assert!(outcome.last_loss < 0.01, "loss {} -> {}", outcome.first_loss, outcome.last_loss);
}
