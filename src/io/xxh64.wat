;; XXH64 (seed 0) of memory[32768, 32768 + len), or of memory[at, at + len), returning its low 32
;; bits: the record log's checksum
;; (docs/FORMAT.md). Written out here because the JavaScript wrappers of the XXH64 packages
;; return a 64-bit BigInt per call, which costs more than the hash of a 100-byte record
;; (docs/PERFORMANCE.md, "Our own XXH64"). Compiled by scripts/build-wasm.mjs into
;; xxh64-wasm.ts; tests check the two agree and that every result equals xxhash-wasm's.
;;
;; The algorithm is the reference one (github.com/Cyan4973/xxHash, XXH64): four accumulators
;; over 32-byte stripes when there are at least 32 bytes, then 8-byte, 4-byte and 1-byte lanes,
;; then the avalanche. Primes: P1 0x9E3779B185EBCA87, P2 0xC2B2AE3D27D4EB4F,
;; P3 0x165667B19E3779F9, P4 0x85EBCA77C2B2AE63, P5 0x27D4EB2F165667C5.
(module
  ;; The caller copies the input to offset 32768 (growing the memory as needed), or names where
  ;; it lies below that offset (the staging area, xxh64.ts).
  (memory (export "memory") 1)

  ;; round(acc, input) = rotl(acc + input * P2, 31) * P1

  (func $round (param $acc i64) (param $input i64) (result i64)
    (i64.mul
      (i64.rotl
        (i64.add (local.get $acc) (i64.mul (local.get $input) (i64.const 0xC2B2AE3D27D4EB4F)))
        (i64.const 31))
      (i64.const 0x9E3779B185EBCA87)))

  ;; merge(acc, value) = (acc ^ round(0, value)) * P1 + P4
  (func $merge (param $acc i64) (param $value i64) (result i64)
    (i64.add
      (i64.mul
        (i64.xor (local.get $acc) (call $round (i64.const 0) (local.get $value)))
        (i64.const 0x9E3779B185EBCA87))
      (i64.const 0x85EBCA77C2B2AE63)))

  ;; The input's place, 32768, is each load's constant offset, and $p counts from 0: with $p
  ;; starting at a parameter instead, every call took 4-5 ns more in V8 (a fifth of the hash of
  ;; a 100-byte record).
  (func $checksum (export "checksum") (param $len i32) (result i32)
    (local $p i32) (local $end i32) (local $limit i32) (local $h i64)
    (local $v1 i64) (local $v2 i64) (local $v3 i64) (local $v4 i64)
    (local.set $end (local.get $len))
    (if (i32.ge_u (local.get $len) (i32.const 32))
      (then
        (local.set $v1 (i64.const 0x60EA27EEADC0B5D6)) ;; P1 + P2
        (local.set $v2 (i64.const 0xC2B2AE3D27D4EB4F)) ;; P2
        (local.set $v3 (i64.const 0))
        (local.set $v4 (i64.const 0x61C8864E7A143579)) ;; -P1
        (local.set $limit (i32.sub (local.get $end) (i32.const 32)))
        (loop $stripes
          ;; round() written out: calls between wasm functions are not always inlined.
          (local.set $v1 (i64.mul
            (i64.rotl
              (i64.add (local.get $v1) (i64.mul (i64.load offset=32768 (local.get $p)) (i64.const 0xC2B2AE3D27D4EB4F)))
              (i64.const 31))
            (i64.const 0x9E3779B185EBCA87)))
          (local.set $v2 (i64.mul
            (i64.rotl
              (i64.add (local.get $v2) (i64.mul (i64.load offset=32776 (local.get $p)) (i64.const 0xC2B2AE3D27D4EB4F)))
              (i64.const 31))
            (i64.const 0x9E3779B185EBCA87)))
          (local.set $v3 (i64.mul
            (i64.rotl
              (i64.add (local.get $v3) (i64.mul (i64.load offset=32784 (local.get $p)) (i64.const 0xC2B2AE3D27D4EB4F)))
              (i64.const 31))
            (i64.const 0x9E3779B185EBCA87)))
          (local.set $v4 (i64.mul
            (i64.rotl
              (i64.add (local.get $v4) (i64.mul (i64.load offset=32792 (local.get $p)) (i64.const 0xC2B2AE3D27D4EB4F)))
              (i64.const 31))
            (i64.const 0x9E3779B185EBCA87)))
          (local.set $p (i32.add (local.get $p) (i32.const 32)))
          (br_if $stripes (i32.le_u (local.get $p) (local.get $limit))))
        (local.set $h
          (i64.add
            (i64.add (i64.rotl (local.get $v1) (i64.const 1)) (i64.rotl (local.get $v2) (i64.const 7)))
            (i64.add (i64.rotl (local.get $v3) (i64.const 12)) (i64.rotl (local.get $v4) (i64.const 18)))))
        (local.set $h (call $merge (local.get $h) (local.get $v1)))
        (local.set $h (call $merge (local.get $h) (local.get $v2)))
        (local.set $h (call $merge (local.get $h) (local.get $v3)))
        (local.set $h (call $merge (local.get $h) (local.get $v4))))
      (else
        (local.set $h (i64.const 0x27D4EB2F165667C5)))) ;; P5
    (local.set $h (i64.add (local.get $h) (i64.extend_i32_u (local.get $len))))
    ;; 8-byte lanes
    (block $done8
      (loop $lanes8
        (br_if $done8 (i32.gt_u (i32.add (local.get $p) (i32.const 8)) (local.get $end)))
        (local.set $h
          (i64.add
            (i64.mul
              (i64.rotl
                (i64.xor (local.get $h) (call $round (i64.const 0) (i64.load offset=32768 (local.get $p))))
                (i64.const 27))
              (i64.const 0x9E3779B185EBCA87))
            (i64.const 0x85EBCA77C2B2AE63)))
        (local.set $p (i32.add (local.get $p) (i32.const 8)))
        (br $lanes8)))
    ;; a 4-byte lane
    (if (i32.le_u (i32.add (local.get $p) (i32.const 4)) (local.get $end))
      (then
        (local.set $h
          (i64.add
            (i64.mul
              (i64.rotl
                (i64.xor (local.get $h)
                  (i64.mul (i64.load32_u offset=32768 (local.get $p)) (i64.const 0x9E3779B185EBCA87)))
                (i64.const 23))
              (i64.const 0xC2B2AE3D27D4EB4F))
            (i64.const 0x165667B19E3779F9)))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))))
    ;; single bytes
    (block $done1
      (loop $bytes
        (br_if $done1 (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $h
          (i64.mul
            (i64.rotl
              (i64.xor (local.get $h)
                (i64.mul (i64.load8_u offset=32768 (local.get $p)) (i64.const 0x27D4EB2F165667C5)))
              (i64.const 11))
            (i64.const 0x9E3779B185EBCA87)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $bytes)))
    ;; avalanche
    (local.set $h (i64.mul (i64.xor (local.get $h) (i64.shr_u (local.get $h) (i64.const 33))) (i64.const 0xC2B2AE3D27D4EB4F)))
    (local.set $h (i64.mul (i64.xor (local.get $h) (i64.shr_u (local.get $h) (i64.const 29))) (i64.const 0x165667B19E3779F9)))
    (local.set $h (i64.xor (local.get $h) (i64.shr_u (local.get $h) (i64.const 32))))
    (i32.wrap_i64 (local.get $h)))

  ;; XXH64 of memory[at, at + len) for len <= 32768: copied to the input's place, then hashed
  ;; there (a copy inside the module costs less than a start read from a parameter).
  (func (export "checksumAt") (param $at i32) (param $len i32) (result i32)
    (memory.copy (i32.const 32768) (local.get $at) (local.get $len))
    (call $checksum (local.get $len))))
