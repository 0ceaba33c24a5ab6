"""The plugging engine: rows in, decisions and row writes out.

From the top: ``reconciler`` drives one run over the caller's IDL handles;
``incremental`` keeps the incremental runs' copy of the rows and says which
lports to decide (``None``: a full run), ``snapshot`` makes the full run's
copy; both copy rows with ``rows``, the only module that reads an IDL row,
into the frozen values of ``views``. ``rules`` picks the policy
(``compatible`` or ``recommended``, both built on ``decision``, with
``eligibility`` for which lports this chassis may plug); ``writes`` is the
only module that writes rows; ``columns`` says what to monitor; ``report``
holds the values handed back. Private: the public path of every name is
:mod:`ovn_vif`.
"""
