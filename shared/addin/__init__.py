"""The Outlook add-in's backend: who the caller is, the message through Graph, the ERP's CRM records
around it, filing and creating; routes under ``/api/addin`` (:mod:`shared.addin.api`)."""
