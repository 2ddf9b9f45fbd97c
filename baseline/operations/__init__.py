"""Operations the policy requires beside the baseline: change records (CM-01, 第二十二条) and incident grading
(IR-01, 第二十七–三十四条). Runtime code: it never imports the lab or other development tooling."""
