local lib = import 'lib/sandbox.libsonnet';
lib.sandbox('sandbox-hackweek', 'hackweek@example.com', 'hackweek', cpu='32', memory='128Gi') + {
  // A stopped notebook: `running: false` renders its StatefulSet with 0 replicas (no pod, nothing
  // held against the quota or the nodes); its home volume (if any) stays. Set it to true to resume.
  notebooks: [{ user: 'hackweek@example.com', image: 'jupyter-quant', size: 'small', running: false }],
}
