// A sandbox tenant: small CPU quota on the CPU cluster, one group of members.
// Used by tenants/sandbox-*.jsonnet; files under tenants/lib/ are never tenants themselves.
{
  sandbox(name, owner, group, cpu='16', memory='64Gi'):: {
    name: name,
    displayName: 'Sandbox ' + name,
    owner: owner,
    members: [
      { user: owner, role: 'admin' },
      { group: group, role: 'edit' },
    ],
    quota: { cpu: cpu, memory: memory, pods: 100, pvcs: 5, storage: '1Ti' },
    placement: { 'cpu-west': { weight: 1 } },
    queue: { weight: 1, parent: 'research' },
    network: { allowFromIngress: false },
  },
}
