"""The plugging engine: snapshots in, decisions and row writes out.

``reconciler`` drives one iteration over the caller's IDL handles;
``snapshot`` copies the rows it reads into frozen views; ``rules`` picks
the policy (``compatible`` or ``recommended``, both built on ``decision``,
with ``eligibility`` for which lports this chassis may plug); ``writes``
is the only module that writes rows; ``columns`` says what to monitor;
``report`` holds the values handed back. Private: the public path of every
name is :mod:`ovn_vif`.
"""
