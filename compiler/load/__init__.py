"""Load stage: read tenants/ (YAML or Jsonnet) into plain data, with file names attached."""
