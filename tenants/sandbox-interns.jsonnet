local lib = import 'lib/sandbox.libsonnet';
lib.sandbox('sandbox-interns', 'mentor@example.com', 'interns-2026')
