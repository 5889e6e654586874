// The Kapitan side of bench/kapitan_bench.py: what tenantc renders for one tenant of
// bench/compile_bench.py's synthetic tenants (no workloads), written the way a Kapitan user would:
// the tenant spec is the target's `parameters.tenant`, the platform and the object conventions
// (labels, annotations, Argo CD waves, file names) come from the `common` class.
//
// Like tenantc, it splits the logical quota over the tenant's clusters in whole units by
// largest remainder (ties to the earlier cluster), splits the queue guarantee in proportion to
// the quota shares, and gives every GPU resource of a cluster an explicit amount (0 without quota).
// Quantities here: cpu in millicores, memory and storage in bytes, counts as numbers (Jsonnet
// numbers are doubles: exact up to 2^53, far above these totals).
//
// Kapitan's side of the contract: a jsonnet component reads its target's inventory through
// `kap.inventory().parameters`, and each field of the object it returns becomes one output
// file named by its key (kapicorp/kapitan docs/pages/input_types/jsonnet.md); '/' in a key
// makes a folder, so the files land as compiled/<target>/<cluster>/<kind>-<name>.yaml.

local binary = { Ki: 1024, Mi: std.pow(1024, 2), Gi: std.pow(1024, 3), Ti: std.pow(1024, 4),
                 Pi: std.pow(1024, 5), Ei: std.pow(1024, 6) };
local largestFirst = ['Ei', 'Pi', 'Ti', 'Gi', 'Mi', 'Ki'];
local byteUnits = [binary.Ti, binary.Gi, binary.Mi, binary.Ki, 1];  // what bytes are split in
local scalars = ['cpu', 'memory', 'pods', 'pvcs', 'storage'];
local resourceName = { cpu: 'cpu', memory: 'memory', pods: 'pods', pvcs: 'persistentvolumeclaims', storage: 'storage' };
local sum(xs) = std.foldl(function(a, b) a + b, xs, 0);
local indexes(xs) = std.range(0, std.length(xs) - 1);

local parse(resource, q) =
  local s = std.toString(q);
  local n = std.length(s);
  if resource == 'cpu' then
    (if std.endsWith(s, 'm') then std.parseInt(s[:n - 1]) else std.parseInt(s) * 1000)
  else if n > 2 && std.objectHas(binary, s[n - 2:]) then std.parseInt(s[:n - 2]) * binary[s[n - 2:]]
  else std.parseInt(s);

local format(resource, v) =
  if resource == 'cpu' then (if std.mod(v, 1000) == 0 then std.toString(v / 1000) else std.toString(v) + 'm')
  else if (resource == 'memory' || resource == 'storage') && v != 0 then
    local units = [u for u in largestFirst if std.mod(v, binary[u]) == 0];
    if units == [] then std.toString(v) else std.toString(v / binary[units[0]]) + units[0]
  else std.toString(v);

local granularity(resource, total) =
  if resource == 'cpu' then (if std.mod(total, 1000) == 0 then 1000 else 1)
  else if resource == 'memory' || resource == 'storage' then [u for u in byteUnits if std.mod(total, u) == 0][0]
  else 1;

// Largest-remainder split of `total` (a whole number of `unit`s) by integer `weights`.
local split(total, weights, unit) =
  local n = total / unit;
  local w = sum(weights);
  local idx = indexes(weights);
  local rems = [std.mod(n * weights[i], w) for i in idx];
  local floors = [(n * weights[i] - rems[i]) / w for i in idx];
  local order = std.sort(idx, function(i) -rems[i] * std.length(idx) + i);
  local rank = { [std.toString(order[k])]: k for k in indexes(order) };
  local leftover = n - sum(floors);
  if w == 0 then [0 for i in idx]
  else [(floors[i] + (if rank[std.toString(i)] < leftover then 1 else 0)) * unit for i in idx];

// cluster name -> {cpu: millicores, memory: bytes, ..., gpu: {model: count}} for `total`;
// weightOf(cluster, resource, model) gives the weights (placement, or the quota shares).
local shares(clusters, total, weightOf) =
  local names = [c.name for c in clusters];
  local present = [r for r in scalars if std.objectHas(total, r)];
  local splits = {
    [r]: split(parse(r, total[r]), [weightOf(c, r, null) for c in names], granularity(r, parse(r, total[r])))
    for r in present
  };
  local gpu = std.get(total, 'gpu', {});
  local withModel = { [m]: [c.name for c in clusters if std.objectHas(c.gpuResources, m)] for m in std.objectFields(gpu) };
  local gpuSplits = { [m]: split(gpu[m], [weightOf(c, 'gpu', m) for c in withModel[m]], 1) for m in std.objectFields(gpu) };
  {
    [names[i]]: { [r]: splits[r][i] for r in present } + {
      gpu: { [m]: gpuSplits[m][std.find(names[i], withModel[m])[0]]
             for m in std.objectFields(gpu) if std.member(withModel[m], names[i]) },
    }
    for i in indexes(names)
  };

// A share as Kubernetes resource name -> quantity string (GPU models summed per resource name).
local amounts(share, cluster, zeroGpus) =
  local gpuNames = cluster.gpuResourceNames;
  local gpuCount(name) = sum([share.gpu[m] for m in std.objectFields(share.gpu) if cluster.gpuResources[m] == name]);
  { [resourceName[r]]: format(r, share[r]) for r in scalars if std.objectHas(share, r) } + {
    [name]: std.toString(gpuCount(name))
    for name in gpuNames
    if zeroGpus || std.length([m for m in std.objectFields(share.gpu) if cluster.gpuResources[m] == name]) > 0
  };

local hardKey(name) =
  if name == 'pods' || name == 'persistentvolumeclaims' then name
  else if name == 'storage' then 'requests.storage'
  else 'requests.' + name;

local scheduled(a) = { [k]: a[k] for k in std.objectFields(a) if k == 'cpu' || k == 'memory' || std.length(std.findSubstr('/', k)) > 0 };

// Subjects sorted by (kind, name), each once.
local subjects(members) = std.set([
  if std.objectHas(m, 'user') then { kind: 'User', name: m.user, apiGroup: 'rbac.authorization.k8s.io' }
  else { kind: 'Group', name: m.group, apiGroup: 'rbac.authorization.k8s.io' }
  for m in members
], function(s) s.kind + '/' + s.name);

local fromNamespace(conv, name) = { namespaceSelector: { matchLabels: { [conv.labels.namespaceName]: name } } };

{
  // One object with tenantc's ownership labels, source, wave and Argo CD annotations; its file
  // name under the target's compiled folder: <cluster>/<kind>-<name>.
  object(conv, unit, apiVersion, kind, name, namespaced=true, labels={}, body={}):: {
    local k = conv.kinds[apiVersion + '/' + kind],
    key: unit.cluster + '/' + k.stem + '-' + name,
    value: {
      apiVersion: apiVersion,
      kind: kind,
      metadata: {
        name: name,
        labels: labels + {
          [conv.labels.managedBy]: conv.labels.managedByValue,
          [conv.labels.tenant]: unit.tenant,
          [conv.labels.cluster]: unit.cluster,
        },
        annotations: { [conv.annotations.source]: unit.source, [conv.annotations.syncWave]: k.wave } + k.annotations,
      } + (if namespaced then { namespace: unit.namespace } else {}),
    } + body,
  },

  files(objects):: { [o.key]: o.value for o in objects },

  tenantObjects(p)::
    local t = p.tenant;
    local placed = [c for c in p.platform.clusters if std.objectHas(t.placement, c.name)];
    local quota = shares(placed, t.quota, function(c, r, m) t.placement[c].weight);
    local guarantee = if std.objectHas(t.queue, 'guarantee') then
      shares(placed, t.queue.guarantee,
             function(c, r, m) if m == null then std.get(quota[c], r, 0) else std.get(quota[c].gpu, m, 0))
    else {};
    $.files(std.flattenArrays([
      $.unitObjects(p, cluster, quota[cluster.name], std.get(guarantee, cluster.name, null))
      for cluster in placed
    ])),

  unitObjects(p, cluster, share, guarantee)::
    local t = p.tenant;
    local conv = p.conventions;
    local unit = { tenant: t.name, cluster: cluster.name, namespace: t.name, source: p.source };
    local obj(apiVersion, kind, name, namespaced=true, labels={}, body={}) =
      $.object(conv, unit, apiVersion, kind, name, namespaced, labels, body);
    local rbac = 'rbac.authorization.k8s.io/v1';
    local net = 'networking.k8s.io/v1';
    local quotaAmounts = amounts(share, cluster, true);
    local everyone = subjects(t.members);
    local roleBinding(name, roleKind, role, subjects) = obj(rbac, 'RoleBinding', name, body={
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: roleKind, name: role },
      subjects: subjects,
    });
    local policy(name, spec) = obj(net, 'NetworkPolicy', name, body={ spec: spec });
    local network = std.get(t, 'network', {});
    local receivers = [r.tenant for r in p.allowedInBy if std.member(r.clusters, cluster.name)];
    local agent = 'tenantc-agent';
    [
      obj('v1', 'Namespace', t.name, namespaced=false, labels={
        ['pod-security.kubernetes.io/' + mode]: p.platform.podSecurity
        for mode in ['enforce', 'audit', 'warn']
      }),
      obj('v1', 'ServiceAccount', 'workloads', body={ automountServiceAccountToken: false }),
    ] + [
      roleBinding('members-' + role, 'ClusterRole', conv.memberRolePrefix + role,
                  subjects([m for m in t.members if m.role == role]))
      for role in ['admin', 'edit', 'view']
      if std.length([m for m in t.members if m.role == role]) > 0
    ] + [
      obj('v1', 'ResourceQuota', 'tenant-quota', body={
        spec: { hard: { [hardKey(k)]: quotaAmounts[k] for k in std.objectFields(quotaAmounts) } },
      }),
      obj('v1', 'LimitRange', 'tenant-limits', body={ spec: { limits: [{ type: 'Container' } + p.platform.limitRange] } }),
      obj(conv.queueApi, 'Queue', t.name, namespaced=false, body={
        spec: {
          weight: t.queue.weight,
          reclaimable: std.get(t.queue, 'reclaimable', true),
          capability: scheduled(quotaAmounts),
          parent: t.queue.parent,
        } + (if guarantee == null then {} else { guarantee: { resource: scheduled(amounts(guarantee, cluster, false)) } }),
      }),
      obj(rbac, 'ClusterRole', conv.queueReaderPrefix + t.name, namespaced=false, body={
        rules: [{ apiGroups: ['scheduling.volcano.sh'], resources: ['queues'], resourceNames: [t.name],
                  verbs: ['get', 'list', 'watch'] }],
      }),
      obj(rbac, 'ClusterRoleBinding', conv.queueReaderPrefix + t.name, namespaced=false, body={
        subjects: everyone,
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: conv.queueReaderPrefix + t.name },
      }),
      policy('default-deny', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] }),
      policy('allow-same-namespace', {
        podSelector: {}, policyTypes: ['Ingress', 'Egress'],
        ingress: [{ from: [{ podSelector: {} }] }],
        egress: [{ to: [{ podSelector: {} }] }],
      }),
      policy('allow-dns', {
        podSelector: {}, policyTypes: ['Egress'],
        egress: [{
          to: [fromNamespace(conv, p.platform.dnsNamespace) + { podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }],
          ports: [{ port: 53, protocol: 'UDP' }, { port: 53, protocol: 'TCP' }],
        }],
      }),
      policy('allow-monitoring', {
        podSelector: {}, policyTypes: ['Ingress'],
        ingress: [{ from: [fromNamespace(conv, p.platform.monitoringNamespace)] }],
      }),
    ] + (if std.length(std.get(network, 'allowFromTenants', [])) > 0 then [
      policy('allow-from-tenants', {
        podSelector: {}, policyTypes: ['Ingress'],
        ingress: [{ from: [fromNamespace(conv, n) for n in std.set(network.allowFromTenants)] }],
      }),
    ] else []) + (if std.length(receivers) > 0 then [
      policy('allow-to-tenants', {
        podSelector: {}, policyTypes: ['Egress'],
        egress: [{ to: [fromNamespace(conv, n) for n in receivers] }],
      }),
    ] else []) + (if std.length(std.get(network, 'egress', [])) > 0 then [
      policy('allow-egress-cidrs', {
        podSelector: {}, policyTypes: ['Egress'],
        egress: [
          { to: [{ ipBlock: { cidr: rule.cidr } }] } + (if std.length(std.get(rule, 'ports', [])) > 0 then {
            ports: [{ port: port.port, protocol: std.get(port, 'protocol', 'TCP') } for port in rule.ports],
          } else {})
          for rule in network.egress
        ],
      }),
    ] else []) + [
      obj('v1', 'ServiceAccount', agent),
      obj(rbac, 'Role', agent, body={ rules: p.platform.agentRules }),
      roleBinding(agent, 'Role', agent, [{ kind: 'ServiceAccount', name: agent, namespace: t.name }]),
    ],

  // The platform's own objects on every cluster: its parent queues and the member ClusterRoles.
  platformObjects(p):: $.files(std.flattenArrays([
    local conv = p.conventions;
    local unit = { tenant: conv.platformTenant, cluster: cluster.name, namespace: null, source: p.source };
    [
      $.object(conv, unit, conv.queueApi, 'Queue', q.name, namespaced=false, body={
        spec: { weight: q.weight, reclaimable: std.get(q, 'reclaimable', true), parent: std.get(q, 'parent', 'root') },
      })
      for q in p.platform.queues
    ] + [
      $.object(conv, unit, 'rbac.authorization.k8s.io/v1', 'ClusterRole', conv.memberRolePrefix + role,
               namespaced=false, body={ rules: p.memberRules[role] })
      for role in ['admin', 'edit', 'view']
    ]
    for cluster in p.platform.clusters
  ])),
}
