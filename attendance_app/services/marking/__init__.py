"""Taking attendance: sessions (SCHEDULED → ACTIVE → ENDED), marks and updates under the
brief's four rules, bulk actions, roster taps, undo, deletion, students' self check-in,
and the roster a teacher sees."""
