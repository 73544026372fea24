"""Running on Ray: starting or joining a cluster (``ray_runtime``); launch configs and job submission come
in step 6."""
