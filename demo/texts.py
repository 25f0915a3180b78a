"""Words of the demo requests: subjects, descriptions, comments and resolution summaries."""

from __future__ import annotations

from domain.enums import RequestType as T
from domain.enums import ResolutionCode as R

__all__ = ["ACKS", "CUSTOMER_REPLIES", "DESCRIPTIONS", "INTERNAL_NOTES", "RESOLUTIONS", "SUBJECTS", "WAITING"]

# {invoice}, {payment} and {customer} are filled in; each type has a few variants.
SUBJECTS: dict[str, tuple[str, ...]] = {
    T.BILLING_DISPUTE: (
        "Dispute on invoice {invoice}",
        "Charges on {invoice} do not match the contract",
        "Duplicate line items on {invoice}",
        "Invoice {invoice}: services not received",
    ),
    T.INVOICE_CORRECTION: (
        "Correction needed on invoice {invoice}",
        "Wrong purchase order number on {invoice}",
        "VAT number missing on {invoice}",
        "Billing address wrong on {invoice}",
    ),
    T.PAYMENT_INQUIRY: (
        "Status of our last payment",
        "Was our transfer received?",
        "Remittance advice for this month",
        "Payment confirmation needed for audit",
    ),
    T.PAYMENT_POSTING: (
        "Payment {payment} applied to the wrong invoice",
        "Please apply payment {payment}",
        "Payment {payment} shows as unapplied",
    ),
    T.CREDIT_LIMIT_CHANGE: (
        "Credit limit increase request",
        "Temporary credit line for peak season",
        "Raise our credit limit for a new project",
    ),
    T.ACCOUNT_UPDATE: (
        "New billing address",
        "Update of our bank details",
        "New accounts payable contact",
        "Company name change after merger",
    ),
    T.CONTRACT_SERVICE: (
        "Question about our contract renewal",
        "Copy of the signed service agreement",
        "Change of service level",
    ),
    T.LETTER_OF_CREDIT: (
        "Letter of credit for the next shipment",
        "Amendment of letter of credit terms",
    ),
    T.DEBT_RESTRUCTURING: (
        "Request for a payment plan",
        "Restructuring of our overdue balance",
    ),
    T.GENERAL_INQUIRY: (
        "Question about our account statement",
        "Portal access for a new colleague",
        "Request for an account statement",
        "Who is our account manager?",
    ),
}

# Short on purpose: every word is indexed (search_vector), which dominates bulk-load time.
DESCRIPTIONS: tuple[str, ...] = (
    "{subject}. Please see our e-mail of last week. {customer}",
    "{subject}; noticed at month-end close, our books close on Friday.",
    "Dear team, {subject}. Documents are in the portal. {customer}",
    "{subject} (phone call, summarised by the service desk).",
)

ACKS: tuple[str, ...] = (
    "Thank you for reaching out, we are looking into this and will get back to you shortly.",
    "We have received your request and assigned it to a specialist.",
    "Thanks, we are checking this against our records now.",
)

WAITING: tuple[str, ...] = (
    "Could you please send us the remittance advice or a bank statement showing the transfer?",
    "Please confirm the purchase order number and the delivery date for this invoice.",
    "Could you share the signed change request so we can verify the agreed price?",
    "We need the last two years' financial statements to continue.",
)

CUSTOMER_REPLIES: tuple[str, ...] = (
    "Please find the requested document attached in the portal.",
    "Here is the information you asked for; let us know if anything else is missing.",
    "Our PO number is in the attachment, thanks for your patience.",
)

INTERNAL_NOTES: tuple[str, ...] = (
    "Checked the ERP: the price list in the contract differs from the invoiced one.",
    "Customer called twice about this; please prioritise.",
    "Looks like a duplicate of an earlier request, verifying before closing.",
    "Bank statement matches the amount, value date one day later.",
)

RESOLUTIONS: dict[str, tuple[str, ...]] = {
    R.NO_ADJUSTMENT_NEEDED: ("The invoice is correct as issued; details are in the attached breakdown.",),
    R.INFORMATION_PROVIDED: (
        "We have sent you the requested information; please reopen the request if anything is unclear.",
        "Your payment was received and is posted; a confirmation is attached.",
    ),
    R.REJECTED: ("After review we cannot accept this request; the reasons are explained in the attachment.",),
    R.DUPLICATE: ("This is handled in another request, which we have linked for you.",),
    R.ACCOUNT_UPDATED: ("Your account details are updated in our systems.",),
}
