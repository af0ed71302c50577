"""Write the hostile "messy feed" of tests/data/messy/ (run from anywhere: python make_messy.py).

Every planted problem sits on a fixed data row (1-based, header excluded) and
is listed in README.md; tests/test_load.py spells out the expected rejects by
hand. Each table stays at or under 5% dropped rows, so the feed loads with the
default ``max_reject_rate``.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

HERE = Path(__file__).parent
N_ACCOUNTS = 120
BAD_ACCOUNT_ROWS = (20, 21, 22, 23, 24)
VALID = [f"{i:05d}" for i in range(1, N_ACCOUNTS + 1) if i not in BAD_ACCOUNT_ROWS]
WRONG_FIELDS = "00024,2024-01-01,too,many,fields,in,this,line,for,accounts,at,all"


def _write(name: str, header: list[str], rows: dict[int, list[str] | str], *,
           bom: bool = False, newline: str = "\n") -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=newline)
    writer.writerow(header)
    for i in sorted(rows):
        row = rows[i]
        if isinstance(row, str):  # a raw line, e.g. with the wrong number of fields
            buffer.write(row + newline)
        else:
            writer.writerow(row)
    text = ("\ufeff" if bom else "") + buffer.getvalue()
    (HERE / name).write_bytes(text.encode("utf-8"))


def accounts() -> None:
    header = ["account_id", "created_at", "email", "phone", "full_name", "registration_ip",
              "device_id", "country", "notes"]
    rows: dict[int, list[str] | str] = {}
    for i in range(1, N_ACCOUNTS + 1):
        rows[i] = [f"{i:05d}", f"2024-01-{i % 28 + 1:02d}T{i % 24:02d}:00:00Z",
                   f"user{i}@example.com", f"0{9120000000 + i}", f"Person {i}",
                   f"10.0.{i // 256}.{i % 256}", f"dev-{i:04d}", ("RU", "DE", "NA")[i % 3],
                   "" if i % 4 else "vip, prefers email"]
    rows[3][4] = '=HYPERLINK("http://evil.example","click me")'
    rows[4][4], rows[4][2] = "Ann\nLee", " Ann@Example.com "
    rows[5][4] = "\u200f\u0645\u062d\u0645\u062f \u0639\u0644\u064a"
    rows[6][4] = "\u202eevil\u202c"
    rows[7][0] = " 00007 "
    rows[8][0] = "00008\u200f"
    rows[9][1] = "2024-03-01T10:00:00+03:00"
    rows[10][1] = "2024-03-01 10:00:00"
    rows[11][1] = "yesterday"
    rows[12][5] = "300.1.2.3"
    rows[13][5] = "2001:db8::1"
    rows[20][0] = ""
    rows[21][0] = "   "
    rows[22][0] = "00002"
    rows[23][0] = " 00003"
    rows[24] = WRONG_FIELDS
    rows[40][2] = "=cmd|' /C calc'!A0"
    rows[9][6] = rows[10][6] = "dev-shared"  # 00009 and 00010: one person (see payments)
    _write("accounts.csv", header, rows, bom=True)


def logins() -> None:
    header = ["account_id", "ip", "device_id", "seen_at"]
    rows: dict[int, list[str] | str] = {
        j: [VALID[j % len(VALID)], f"192.0.2.{j % 250}", f"dev-{int(VALID[j % len(VALID)]):04d}",
            f"2024-04-{j % 28 + 1:02d}T{j % 24:02d}:{j % 60:02d}:00Z"]
        for j in range(1, 201)
    }
    rows[5][1] = "999.1.1.1"
    rows[6][1] = "not-an-ip"
    rows[7][1] = " 10.1.1.1 "
    rows[8][1] = "2001:db8::42"
    rows[10][3] = "2024-13-45T00:00:00"
    rows[11][3] = ""
    rows[12][3] = "2024-05-01T12:00:00-05:00"
    rows[13][0] = "99999"
    rows[14][0] = ""
    rows[15][0] = "00020"
    rows[16][1] = "01.2.3.4"
    _write("logins.csv", header, rows)


def addresses() -> None:
    header = ["account_id", "address_id", "recipient_name", "line1", "line2", "city", "region",
              "postal_code", "country"]
    rows: dict[int, list[str] | str] = {
        k: [VALID[k % len(VALID)], f"ad{k}", f"Person {k}", f"{k} Main St", "", "Springfield",
            "", f"{k:05d}", "DE"]
        for k in range(1, 41)
    }
    rows[3][3] = "12 Main St.\napt. 4"
    rows[4][2] = '=HYPERLINK("http://x.example","y")'
    rows[5][0] = "77777"
    rows[6][7] = "01234"
    _write("addresses.csv", header, rows)


def payments() -> None:
    header = ["account_id", "payment_id", "method", "fingerprint", "card_bin", "card_last4",
              "card_expiry", "holder_name"]
    rows: dict[int, list[str] | str] = {
        k: [VALID[k % len(VALID)], f"pm{k}", "card", f"fp{k:06d}", "004512", f"{k:04d}",
            "03/27", f"PERSON {k}"]
        for k in range(1, 41)
    }
    rows[5][0] = ""
    rows[6][3] = ""
    rows[8][0], rows[9][0] = "00009", "00010"
    rows[8][3] = rows[9][3] = "fp-shared"
    rows[7][7] = "\u200fAli"
    _write("payments.csv", header, rows)


def orders() -> None:
    header = ["order_id", "account_id", "created_at", "amount", "currency", "coupon_code",
              "coupon_type", "discount", "address_id", "payment_id"]
    rows: dict[int, list[str] | str] = {
        k: [f"o{k:05d}", VALID[k % len(VALID)], f"2024-06-{k % 28 + 1:02d}T08:00:00Z",
            f"{10 + k % 50}.{k % 100:02d}", "EUR", "" if k % 5 else "WELCOME10",
            "" if k % 5 else "new_user", "" if k % 5 else "10", f"ad{k % 40 + 1}",
            f"pm{k % 40 + 1}"]
        for k in range(1, 141)
    }
    rows[5][3] = "12,50"
    rows[6][3] = "-5"
    rows[7][7] = "abc"
    rows[8][0] = "o00002"
    rows[9][1] = "88888"
    rows[10][3] = ""
    rows[11][2] = "2024-02-30"
    _write("orders.csv", header, rows, newline="\r\n")


def sanctions() -> None:
    header = ["account_id", "action", "reason", "created_at"]
    actions = ("banned", "suspended", "warning", "restricted", "rating_revoked")
    rows: dict[int, list[str] | str] = {
        k: [VALID[(7 * k) % len(VALID)], actions[k % 5], f"case {k}", "2024-07-01T00:00:00Z"]
        for k in range(1, 26)
    }
    rows[3][1] = "BANNED "
    rows[4][1] = "jailed"
    rows[5][0] = "00009"  # banned; 00010 is the same person
    _write("sanctions.csv", header, rows)


def decisions() -> None:
    header = ["account_id", "decision", "created_at"]
    values = ("cleared", "confirmed", "sanctioned", "escalated")
    rows: dict[int, list[str] | str] = {
        k: [VALID[(11 * k) % len(VALID)], values[k % 4], "2024-07-02T00:00:00Z"]
        for k in range(1, 26)
    }
    rows[3][1] = "Cleared"
    rows[4][1] = "maybe"
    _write("decisions.csv", header, rows)


if __name__ == "__main__":
    for write in (accounts, logins, addresses, payments, orders, sanctions, decisions):
        write()
