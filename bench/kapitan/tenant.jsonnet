// Kapitan component (input_type jsonnet) of every tenant target: its objects on each of its clusters.
local kap = import 'lib/kapitan.libjsonnet';
local tenantc = import 'tenantc.libsonnet';

tenantc.tenantObjects(kap.inventory().parameters)
