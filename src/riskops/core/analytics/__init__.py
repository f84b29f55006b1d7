"""Customer analytics on transaction histories (pure: numpy and scipy, no I/O).

:mod:`riskops.core.analytics.clv` holds the customer-lifetime-value models: the RFM summary of
transactions, the BG/NBD and Pareto/NBD purchase models, the Gamma-Gamma spend model and the
discounted value that combines them."""
