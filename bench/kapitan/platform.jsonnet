// Kapitan component (input_type jsonnet) of the platform target: its queues and member roles per cluster.
local kap = import 'lib/kapitan.libjsonnet';
local tenantc = import 'tenantc.libsonnet';

tenantc.platformObjects(kap.inventory().parameters)
