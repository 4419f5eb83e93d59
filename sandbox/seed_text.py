"""Words the seeded world is made of: people, companies, subjects, bodies, hostile strings.

Kept apart from the generator so the text can grow without touching the logic. All domains
of made-up organisations end in `.example` (RFC 2606) so no seeded address can ever reach a
real mailbox, except the deliberately internationalised ones in the hostile corpus.
"""

from __future__ import annotations

FIRST_NAMES = (
    "Olivia", "Liam", "Emma", "Noah", "Ava", "Ethan", "Sophia", "Mason", "Isabella", "Lucas",
    "Mia", "Oliver", "Amelia", "Elijah", "Harper", "James", "Evelyn", "Benjamin", "Abigail",
    "Henry", "Charlotte", "Jack", "Grace", "Samuel", "Chloe", "Daniel", "Zoe", "Matthew",
    "Hannah", "David", "Nora", "Joseph", "Leah", "Carlos", "Fatima", "Hiroshi", "Ingrid",
    "Kwame", "Anika", "Mateo", "Siobhan", "Ravi", "Yara", "Tomasz", "Chiara", "Oskar",
    "Aisha", "Lars", "Camila", "Dmitri", "Nadia", "Felix", "Rosa", "Tariq", "Elena", "Jonas",
)

LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore",
    "Jackson", "Martin", "Lee", "Thompson", "White", "Harris", "Clark", "Lewis", "Walker",
    "Hall", "Young", "King", "Wright", "Scott", "Green", "Baker", "Adams", "Nelson", "Hill",
    "Campbell", "Mitchell", "Roberts", "Carter", "Phillips", "Evans", "Turner", "Torres",
    "Nakamura", "Okafor", "Kowalski", "Lindqvist", "Rossi", "Dubois", "Schneider", "Patel",
    "Novak", "Haddad", "Fischer", "Murphy", "Kelly", "Sullivan", "Bianchi", "Andersen",
)

TITLES = (
    "VP of Sales", "Head of Procurement", "IT Director", "Operations Manager", "CFO",
    "Chief Technology Officer", "Purchasing Lead", "Marketing Director", "Project Manager",
    "Customer Success Manager", "Finance Controller", "Solutions Architect", "COO",
    "Office Manager", "Head of Partnerships", "Senior Buyer",
)

# Two halves of company names, combined for as many organisations as a scale needs. The
# first few pairs are the hand-picked customers and prospects of the demo world.
COMPANY_STEMS = (
    "Northwind", "Fabrikam", "Tailspin", "Wingtip", "Litware", "Adventure", "Proseware",
    "Lucerne", "Margie's", "Coho", "Alpine", "Blue Yonder", "Trey", "Woodgrove", "Humongous",
    "Graphic Design", "Wide World", "Southridge", "Fourth Coffee", "Consolidated", "Relecloud",
    "Bellows", "VanArsdel", "Contoso Pharma", "Datum", "Lamna", "Nod", "Olympia", "Tuscany",
    "Baldwin", "Greenleaf", "Ironbridge", "Kestrel", "Meridian", "Oakhurst", "Pinecrest",
    "Quarry", "Redwood", "Silverline", "Tidewater", "Upland", "Vantage", "Westbrook",
)
COMPANY_KINDS = (
    "Traders", "Industries", "Logistics", "Systems", "Health", "Foods", "Energy", "Capital",
    "Labs", "Manufacturing", "Software", "Insurance", "Media", "Retail", "Analytics",
    "Engineering", "Hotels", "Airlines", "Bank", "Publishing",
)

PRODUCTS = (
    "Ferry Sync", "the Enterprise plan", "the analytics add-on", "the onboarding package",
    "premium support", "the data migration service", "the API tier", "the pilot licence",
)

OPPORTUNITY_STAGES = (
    "Prospecting", "Qualification", "Needs Analysis", "Value Proposition",
    "Proposal/Price Quote", "Negotiation/Review", "Closed Won", "Closed Lost",
)
OPEN_LEAD_STATUSES = ("Open - Not Contacted", "Working - Contacted", "Closed - Not Converted")
CONVERTED_LEAD_STATUS = "Closed - Converted"
CASE_STATUSES = ("New", "Working", "Escalated", "Closed")
CASE_SUBJECTS = (
    "Sync stopped after password change", "Invoice shows wrong VAT number",
    "Cannot add second admin", "Export to CSV times out", "Request for SSO setup",
    "Duplicate activities on contact", "Question about data retention",
)

# Subjects of outgoing sales mail; {company}, {product}, {first}, {month} are filled in.
SALES_SUBJECTS = (
    "Following up on our call",
    "Proposal for {company}",
    "Pricing for {product}",
    "Next steps with {company}",
    "Quick question about your renewal",
    "Agenda for Thursday's demo",
    "{company} x Contoso: pilot timeline",
    "Updated quote attached",
    "Checking in, {first}",
    "Contract redlines for review",
    "Reference customers you asked for",
    "Intro: Contoso and {company}",
    "Security questionnaire answers",
    "{month} QBR slides",
    "Onboarding plan for {product}",
)
# Subjects customers and prospects write.
CUSTOMER_SUBJECTS = (
    "Question about the invoice",
    "Re: our renewal in {month}",
    "Can we move the meeting?",
    "Feedback after the workshop",
    "Request: additional licences",
    "Purchase order for {product}",
    "Issue with the last export",
    "Budget approval update",
    "Who should I talk to about {product}?",
    "Interested in a demo",
    "Thanks for the session today",
)
INTERNAL_SUBJECTS = (
    "Pipeline review prep",
    "Can you cover my {company} call?",
    "Forecast numbers for {month}",
    "Lunch & learn on Friday",
    "Deal desk approval needed: {company}",
    "Handover notes for {company}",
    "Team offsite logistics",
    "Commission statement question",
)
NEWSLETTER_SUBJECTS = (
    "Your weekly digest",
    "{month} product updates",
    "Webinar: selling in a downturn",
    "5 tips for better forecasting",
    "Your invoice is ready",
    "Password expiry notice",
    "New sign-in to your account",
    "Your order has shipped",
)

GREETINGS = ("Hi {first},", "Hello {first},", "Dear {first},", "{first},", "Hi all,")
BODY_LINES = (
    "Thanks for taking the time to talk earlier this week.",
    "As promised, here is a short summary of where we landed.",
    "Could you confirm the number of seats you need for the first phase?",
    "I've attached the updated quote with the discount we discussed.",
    "Our legal team has reviewed the redlines and accepted most of them.",
    "Let me know if Tuesday at 10:00 still works for you.",
    "We'd like to start the pilot with the sales team in two weeks.",
    "The invoice for last quarter should reach you by Friday.",
    "Happy to set up a call with one of our reference customers.",
    "I'll loop in our solutions engineer for the technical questions.",
    "Budget for next year is being finalised, so timing is good.",
    "Please find the agenda for the workshop below.",
    "We had a few questions about data residency before we sign.",
    "Could you send over the security documentation?",
    "The team really liked the demo and wants to see the reporting part.",
)
CLOSINGS = ("Best regards,", "Thanks,", "Kind regards,", "Cheers,", "Best,", "Many thanks,")
NEWSLETTER_BODY = (
    "You are receiving this email because you subscribed to updates.\n"
    "Read online: https://news.example/read\nUnsubscribe: https://news.example/unsubscribe"
)
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")

# Senders whose mail nobody wants in a CRM: newsletters, notifications, no-reply robots.
BULK_SENDERS = (
    ("SaaS Weekly", "newsletter@saasweekly.example"),
    ("Cloud Billing", "no-reply@billing.cloudvendor.example"),
    ("LinkUp", "notifications-noreply@linkup.example"),
    ("Calendar", "calendar-notification@calendar.example"),
    ("Conference 2026", "do-not-reply@events.salesconf.example"),
    ("IT Service Desk", "noreply@itsm.contoso-tools.example"),
)

# Colleagues in the tenant who have no demo mailbox (so only one copy of their mail exists).
COLLEAGUES = (
    ("Sam Lee", "sam.lee"),
    ("Jordan Blake", "jordan.blake"),
    ("Finance Team", "finance"),
    ("IT Helpdesk", "it-helpdesk"),
    ("Rachel Kim", "rachel.kim"),
)

# Hostile strings the product must display, store and query without breaking. Each is used
# somewhere in the demo world (subject, display name, body or address); tests check that.
HOSTILE_SCRIPT = "<script>alert('xss')</script>"
HOSTILE_ATTRIBUTE = '"><img src=x onerror=alert(1)>'
HOSTILE_JS_URL = "javascript:alert(document.cookie)"
HOSTILE_RTL = "Invoice \u202egnp.exe\u202c for review"  # RTL override hides the real extension
HOSTILE_ZERO_WIDTH = "Pay\u200bment\u200d upd\ufeffate"  # zero-width space, joiner, BOM
HOSTILE_EMOJI = "🚀 Launch day! 🎉 👨‍👩‍👧‍👦 🇬🇧"
HOSTILE_SQL = "Robert'); DROP TABLE tasks;-- \\' OR '1'='1"
HOSTILE_SOQL = "x' OR Email LIKE '%"
HOSTILE_HEADER = "Hello\r\nBcc: victim@attacker.example"
HOSTILE_TEMPLATE = "{{7*7}} ${7*7} <%= 7*7 %> %s %(name)s"
HOSTILE_HTML_BODY = (
    "<html><body><b>Bold claim</b> </textarea></td><iframe src=\"https://evil.example\">"
    "</iframe></body></html>"
)
HOSTILE_LONG_SUBJECT = ("Very long subject " * 600)[:10_000]  # exactly 10,000 characters
HOSTILE_STRINGS = (
    HOSTILE_SCRIPT, HOSTILE_ATTRIBUTE, HOSTILE_JS_URL, HOSTILE_RTL, HOSTILE_ZERO_WIDTH,
    HOSTILE_EMOJI, HOSTILE_SQL, HOSTILE_SOQL, HOSTILE_HEADER, HOSTILE_TEMPLATE,
)
# Addresses that are valid (or merely plausible) yet break naive code: quoted local parts
# with backslashes (SOQL escaping), internationalised domains in Unicode and in punycode.
# Apostrophes, plus signs and upper case sit in Salesforce records (see seed_demo).
HOSTILE_ADDRESS_QUOTED = '"a\\\\b"@quoted.example'  # the text "a\\b"@quoted.example
HOSTILE_ADDRESS_IDN = "josé@exämple.de"
HOSTILE_ADDRESS_PUNYCODE = "info@xn--exmple-cua.de"  # exämple.de in its ASCII form
