//! Benchmark tools for roster: `bench-seed` fills a database through roster's own service
//! and storage code, `bench-reference` answers every request with fixed bytes, as the
//! ceiling roster is compared with. `bench/run` drives both.
