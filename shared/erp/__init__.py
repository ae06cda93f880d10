"""ERP adapter: the ErpGateway for Acumatica and Acumatica<->domain mapping."""
