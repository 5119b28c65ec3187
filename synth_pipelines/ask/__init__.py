"""Questions over a kept dataset, answered with SQL that is shown and passes the store's safety gate."""
