"""The provider contract: what a provider package loads, and nothing else.

The provider ABC and its values, the registry, netdev name rules, the
frozen mapping and the rate-limited logger. Private: the public path of
every name is :mod:`ovn_vif`.
"""
