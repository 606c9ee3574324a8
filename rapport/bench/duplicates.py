"""`rapport bench duplicates --rows N`: the duplicate scan's time over N contacts.

Seeds N contacts with the contacts bench's bulk path, plants duplicates (one in a hundred
contacts gets a twin with the same email, and one in two hundred a twin with a slightly
misspelt name at the same company), then times `duplicates.scan("contact")` and checks it
found the planted pairs. Run it on a scratch database (RAPPORT_DATA_DIR=/tmp/bench-dupes).
"""

import os
import platform
import time

from django.db import connection, transaction


def run(*, rows: int, out=print) -> dict:
    from rapport.bench import seed
    from rapport.contacts import duplicates
    from rapport.contacts.models import Company, Contact, DuplicatePair
    from rapport.core import bulk

    if Contact.all_objects.exists():
        raise RuntimeError("This database holds contacts; run the bench on a scratch database "
                           "(RAPPORT_DATA_DIR=/tmp/bench-dupes).")
    _, owner_ids = seed.seed_owners()
    out(f"Seeding {rows:,} contacts…")
    seed.rapport_seed(rows, owner_ids=owner_ids, pools=seed.Pools())
    out("Planting duplicates…")
    with transaction.atomic():
        companies = bulk.insert_values(Company, [{"name": f"Bench Company {i}"}
                                                 for i in range(rows // 200)])
        twins = []
        for index, original in enumerate(Contact.objects.order_by("id")[: rows // 100].iterator()):
            twin = {"first_name": original.first_name, "last_name": original.last_name,
                    "email": original.email, "owner_id": original.owner_id}
            if index % 2:  # a misspelt twin at the same company instead
                company_id = companies[index % len(companies)]
                Contact.objects.filter(pk=original.pk).update(company_id=company_id)
                twin.update(email="", company_id=company_id,
                            last_name=original.last_name[:-1] + "x")
            twins.append(twin)
        twin_ids = bulk.insert_values(Contact, twins)
    planted = len(twins)
    out(f"Scanning {Contact.objects.count():,} contacts…")
    started = time.perf_counter()
    scan = duplicates.scan("contact")
    seconds = time.perf_counter() - started
    found = {(p.first_id, p.second_id) for p in
             DuplicatePair.objects.filter(object_type="contact")}
    hits = sum(1 for pk in twin_ids if any(pk in pair for pair in found))
    return {"target": "duplicates", "engine": connection.vendor, "rows": scan.records,
            "seconds": round(seconds, 1), "pairs": scan.pairs, "planted": planted,
            "planted_found": hits,
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                        "python": platform.python_version()}}


def report(result: dict) -> str:
    return "\n".join([
        "",
        f"Duplicate scan of {result['rows']:,} contacts on {result['engine']}: "
        f"{result['seconds']:,} s, {result['pairs']:,} pairs",
        f"  planted duplicates found: {result['planted_found']:,} of {result['planted']:,}",
    ])
