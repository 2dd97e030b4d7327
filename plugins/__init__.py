"""Provider plugins shipped with the gateway. Each sub-package is one provider."""
