-- The reconciliation of cakupan/reconcile.py written as DuckDB SQL: the peer an analyst would reach for.
--
-- Reads the persons and members partitions (see benchmarks/stages.py) and writes one row per person, plus one
-- per regency-paid member on no list, with the columns of the pipeline's reconciliation (person_key included).
-- The dollar-brace placeholders are filled in by benchmarks/reference_duckdb.py: the Parquet paths, the
-- thresholds of cakupan/config/rules.toml, the title patterns, spelling variants and old spellings of cakupan/names.py, and
-- the HMAC key XOR the inner/outer pads (person_key = HMAC-SHA256(key, nik), as cakupan/pii.py).
--
-- Where it differs from cakupan.reconcile, on purpose:
-- * name similarity: DuckDB has no rapidfuzz token_sort_ratio (an Indel ratio on sorted tokens), so
--   name_similarity below is the closest built-in, ${similarity_doc}, on the same sorted-token name keys;
-- * no review decisions (reference/review_decisions.csv): the benchmark's run has none.

CREATE OR REPLACE MACRO untitled(nama) AS
    regexp_replace(
        regexp_replace(trim(regexp_replace(upper(nama), '[''`’]', '', 'g')), '${prefix_titles}', ''),
        '${suffix_titles}', '');

-- Like cakupan.names.name_key: upper case, no titles or punctuation, MUH./ABD expanded, old spellings modernised.
CREATE OR REPLACE MACRO name_key(nama) AS
    nullif(${old_spelling_open}array_to_string(list_transform(
        string_split(trim(regexp_replace(regexp_replace(untitled(nama), '[^A-Z ]', ' ', 'g'), '\s+', ' ', 'g')), ' '),
        lambda t: ${token_variants}), ' ')${old_spelling_close}, '');

-- token_sort_ratio compares the tokens in sorted order; the similarity is then taken on these keys.
CREATE OR REPLACE MACRO sorted_key(key) AS array_to_string(list_sort(string_split(key, ' ')), ' ');

CREATE OR REPLACE MACRO name_similarity(a, b) AS round(${similarity}, 4);

CREATE OR REPLACE MACRO person_key(nik) AS
    sha256(unhex('${opad}') || unhex(sha256(unhex('${ipad}') || encode(nik))));

CREATE OR REPLACE TEMP TABLE persons AS
    SELECT *, sorted_key(name_key(nama)) AS _sorted FROM read_parquet('${persons}');

CREATE OR REPLACE TEMP TABLE members AS
    SELECT *, sorted_key(name_key(nama)) AS _sorted FROM read_parquet('${members}');

-- Persons not found under their own NIK, and members no listed NIK claims.
CREATE OR REPLACE TEMP TABLE missing AS
    SELECT * FROM persons p WHERE NOT EXISTS (SELECT 1 FROM members m WHERE m.nik = p.nik);

CREATE OR REPLACE TEMP TABLE unclaimed AS
    SELECT * FROM members m WHERE NOT EXISTS (SELECT 1 FROM persons p WHERE p.nik = m.nik);

-- Near matches: same birth date, NIKs one substitution or one adjacent swap apart (blocked on digits 1-7 or
-- 10-16, one of which an edit always leaves intact), names at least probable_name_min alike, unique both ways.
CREATE OR REPLACE TEMP TABLE near AS
WITH blocked AS (
    SELECT p.nik AS nik_person, m.nik AS nik_member, p._sorted AS a, m._sorted AS b
    FROM missing p JOIN unclaimed m ON p.birth_date = m.tgl_lahir AND left(p.nik, 7) = left(m.nik, 7)
    UNION
    SELECT p.nik, m.nik, p._sorted, m._sorted
    FROM missing p JOIN unclaimed m ON p.birth_date = m.tgl_lahir AND right(p.nik, 7) = right(m.nik, 7)
),
candidates AS (
    SELECT nik_person, nik_member
    FROM blocked
    WHERE length(nik_person) = 16 AND length(nik_member) = 16
      AND (hamming(nik_person, nik_member) = 1
           OR (hamming(nik_person, nik_member) = 2 AND damerau_levenshtein(nik_person, nik_member) = 1))
      AND name_similarity(a, b) >= ${probable_name_min}
)
SELECT nik_person AS nik, nik_member AS member_nik
FROM candidates
QUALIFY count(*) OVER (PARTITION BY nik_person) = 1 AND count(*) OVER (PARTITION BY nik_member) = 1;

COPY (
    WITH member_side AS (
        SELECT kpj, nik AS member_nik, nama AS member_nama, _sorted AS member_sorted, tgl_lahir AS member_birth_date,
               state, paid_by_regency, tgl_berakhir AS paid_through, grace_end, pembayar
        FROM members
    ),
    exact_rows AS (
        SELECT p.* EXCLUDE (_sorted),
               CASE WHEN name_similarity(p._sorted, m.member_sorted) >= ${name_match_min}
                    THEN CASE m.state WHEN 'covered' THEN 'active' ELSE m.state END
                    ELSE 'identity_conflict' END AS status,
               'nik_exact' AS match_method,
               name_similarity(p._sorted, m.member_sorted) AS name_similarity,
               m.* EXCLUDE (member_sorted)
        FROM persons p JOIN member_side m ON m.member_nik = p.nik
    ),
    near_rows AS (
        SELECT p.* EXCLUDE (_sorted),
               CASE WHEN m.member_nik IS NULL THEN 'not_enrolled' ELSE 'probable_match' END AS status,
               CASE WHEN m.member_nik IS NULL THEN 'none' ELSE 'nik_near' END AS match_method,
               name_similarity(p._sorted, m.member_sorted) AS name_similarity,
               m.* EXCLUDE (member_sorted)
        FROM missing p LEFT JOIN near n ON n.nik = p.nik LEFT JOIN member_side m ON m.member_nik = n.member_nik
    ),
    unlisted AS (
        SELECT u.nik, u.nama, u.tgl_lahir AS birth_date,
               CASE WHEN TRY_CAST(substr(u.nik, 7, 2) AS INTEGER) > 40 THEN 'P' ELSE 'L' END AS sex,
               'enrolled_not_submitted' AS status, 'none' AS match_method,
               m.* EXCLUDE (member_sorted)
        FROM unclaimed u JOIN member_side m ON m.member_nik = u.nik
        WHERE NOT EXISTS (SELECT 1 FROM near n WHERE n.member_nik = u.nik)
          AND u.paid_by_regency AND u.state IN ('covered', 'grace')
    ),
    result AS (
        SELECT * FROM exact_rows
        UNION ALL BY NAME SELECT * FROM near_rows
        UNION ALL BY NAME SELECT * FROM unlisted
    )
    SELECT *,
           NULL::VARCHAR AS decision, NULL::VARCHAR AS decision_kpj, NULL::VARCHAR AS decided_by,
           NULL::TIMESTAMP AS decided_at,
           person_key(nik) AS person_key
    FROM result
    ORDER BY list_position(['active', 'grace', 'lapsed', 'not_enrolled', 'identity_conflict', 'probable_match',
                            'enrolled_not_submitted'], status), nik
) TO '${output}' (FORMAT parquet, COMPRESSION zstd);
