# Bar charts of bench/compare.sh's table: requests/s, CPU per request and peak RSS.
#   gnuplot -e "datafile='compare.dat'; outfile='compare.png'; subtitle='...'" bench/compare.gp
# The data file has one client a line: "label" req_per_s cpu_us_per_req peak_rss_mb.
if (!exists("subtitle")) subtitle = ''
set terminal pngcairo size 1200,420 font 'DejaVu Sans,10' noenhanced
set output outfile
set multiplot layout 1,3 title 'sluice vs peers against sluice mock --latency 0 ('.subtitle.')'
set style fill solid 0.8 border -1
set boxwidth 0.6
set xrange [-0.6:*]
set offsets 0, 0.6, 0, 0
set grid ytics
set xtics rotate by -25 scale 0
set key off
set yrange [0:*]
set title 'requests/s (higher is better)'
plot datafile using 0:2:xtic(1) with boxes lc rgb '#3b75af', '' using 0:2:(sprintf('%.0f', $2)) with labels offset 0,0.7
set title 'CPU us per request (lower is better)'
plot datafile using 0:3:xtic(1) with boxes lc rgb '#ef8636', '' using 0:3:(sprintf('%.1f', $3)) with labels offset 0,0.7
set title 'peak RSS MB (lower is better)'
plot datafile using 0:4:xtic(1) with boxes lc rgb '#519e3e', '' using 0:4:(sprintf('%.1f', $4)) with labels offset 0,0.7
unset multiplot
