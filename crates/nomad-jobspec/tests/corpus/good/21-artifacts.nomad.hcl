# Artifact block options: checksums, archive handling, git and S3
# sources, request headers, file/dir modes and chown.
job "ml-batch-scoring" {
  type        = "batch"
  datacenters = ["dc1"]

  group "score" {
    task "score" {
      driver = "exec"

      # archive, unpacked into local/ (default destination) and verified
      artifact {
        source = "https://models.example.com/scorer/scorer-1.8.0.tar.gz"

        options {
          checksum = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        }
      }

      # single file, kept as-is
      artifact {
        source      = "https://models.example.com/weights/model-2024-10.bin"
        destination = "local/model/weights.bin"
        mode        = "file"
        chown       = true

        headers {
          Authorization = "Bearer ${NOMAD_META_model_token}"
          User-Agent    = "nomad-artifact"
        }
      }

      # a git repository checked out at a tag, as a directory
      artifact {
        source      = "git::https://github.com/example/scoring-config.git"
        destination = "local/config"
        mode        = "dir"

        options {
          ref   = "v1.8.0"
          depth = "1"
        }
      }

      # S3 object, insecure transport explicitly disabled
      artifact {
        source      = "s3::https://s3.eu-central-1.amazonaws.com/ml-inputs/batch-${NOMAD_META_batch_id}.parquet"
        destination = "local/input/"
        mode        = "any"
        insecure    = false
      }

      config {
        command = "local/scorer"
        args    = ["--model", "local/model/weights.bin", "--input", "local/input"]
      }

      meta {
        model_token = "placeholder"
        batch_id    = "2024-11-01"
      }

      resources {
        cpu    = 2000
        memory = 8192
      }
    }
  }
}
