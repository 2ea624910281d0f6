"""The sampler stage: pipeline-ROAS posteriors per entity, probability-matching allocation, budget requests."""
