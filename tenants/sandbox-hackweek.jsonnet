local lib = import 'lib/sandbox.libsonnet';
lib.sandbox('sandbox-hackweek', 'hackweek@example.com', 'hackweek', cpu='32', memory='128Gi')
