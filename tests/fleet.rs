//! Fleet budgets end to end: real `redis-server`, real `switchyard serve` replicas.
