//! The Prometheus registry every binary owns, with the families all of them export
//! (`amqp_connected`, `amqp_blocked`, `amqp_publish_batch_messages`, `build_info`). Each
//! binary registers its own families in its own `metrics` module.

use prometheus::{
    Encoder, Histogram, HistogramOpts, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Default latency buckets in seconds, from 1 ms to 60 s.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// An owned registry plus the shared gauges.
#[derive(Clone, Debug)]
pub struct Metrics {
    registry: Registry,
    /// `amqp_connected`: 1 while the broker connection is up and the topology declared.
    pub amqp_connected: IntGauge,
    /// `amqp_blocked`: 1 while the broker blocks this process's publishing (resource alarm).
    pub amqp_blocked: IntGauge,
    /// `amqp_publish_batch_messages`: messages a publish channel sent together and awaited
    /// the confirms of as one batch (see `AMQP_PUBLISH_BATCH`).
    pub amqp_publish_batch: Histogram,
}

impl Metrics {
    /// A new registry with `amqp_connected`, `amqp_blocked` and `build_info{version}` registered.
    pub fn new() -> Self {
        let registry = Registry::new();
        let amqp_connected = IntGauge::new(
            "amqp_connected",
            "1 while connected to RabbitMQ with the topology declared, else 0",
        )
        .expect("valid metric");
        let amqp_blocked = IntGauge::new(
            "amqp_blocked",
            "1 while RabbitMQ blocks this process's publishing (memory or disk alarm), else 0",
        )
        .expect("valid metric");
        let amqp_publish_batch = Histogram::with_opts(
            HistogramOpts::new(
                "amqp_publish_batch_messages",
                "Messages a publish channel sent as one batch before awaiting their confirms",
            )
            .buckets(vec![
                1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
            ]),
        )
        .expect("valid metric");
        let build_info = IntGaugeVec::new(
            Opts::new("build_info", "Always 1; the version is in the label"),
            &["version"],
        )
        .expect("valid metric");
        build_info.with_label_values(&[crate::VERSION]).set(1);
        let metrics = Self {
            registry,
            amqp_connected,
            amqp_blocked,
            amqp_publish_batch,
        };
        metrics.register(metrics.amqp_connected.clone());
        metrics.register(metrics.amqp_blocked.clone());
        metrics.register(metrics.amqp_publish_batch.clone());
        metrics.register(build_info);
        metrics
    }

    /// Register a collector. Names are fixed at compile time, so a clash is a bug.
    pub fn register<C: prometheus::core::Collector + 'static>(&self, collector: C) {
        self.registry
            .register(Box::new(collector))
            .expect("metric names are unique");
    }

    /// The registry in the Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buffer)
            .expect("text encoding cannot fail");
        String::from_utf8(buffer).expect("text format is UTF-8")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
