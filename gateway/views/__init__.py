"""HTTP views, one blueprint per audience: API clients (/v1), providers (/notify), apps (/pay)."""
