# Values for 26-variables-var-files.nomad.hcl (production).
service_name   = "catalog"
instance_count = 3
datacenters    = ["eu-central-1a", "eu-central-1b"]

labels = {
  team = "catalog"
  tier = "backend"
}

task_resources = {
  api = {
    cpu    = 500
    memory = 512
  }
  indexer = {
    cpu    = 250
    memory = 1024
  }
}

deploy = {
  canaries     = 1
  auto_promote = false
}
