"""Networks of links: compilation to flat arrays, batched stepping on CPU and GPU, fixed-plan runs."""
