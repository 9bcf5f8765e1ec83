"""Human review of a sample of generated records: sampling design and confidence intervals."""
