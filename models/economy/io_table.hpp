#pragma once
// Throughput by sector through an environmentally extended input-output table (DESIGN.md §5.3;
// docs/models/economy_components.md).
//
// Gross output x meets final demand y and the inputs the sectors buy from each other,
// x = A x + y, so x = (I - A)^-1 y (Leontief; Miller & Blair 2009, Input-Output Analysis, 2nd
// ed., ch. 2). A[i][j] is the input from sector i per unit of output of sector j. Materials
// extracted are intensity_i x_i / efficiency per sector (the environmental extension, ch. 10):
// efficiency gains lower the intensity, and growth of demand can offset them (rebound).
//
// IoTable::standard() is six sectors: food, housing, goods, digital services, care, energy.
// Its numbers are ILLUSTRATIVE AGGREGATES, rounded by hand, not an extraction from a database:
//  - A: intermediate inputs in the proportions of EU aggregates of multi-regional tables (OECD
//    ICIO; EXIOBASE 3, Stadler et al. 2018, J. Ind. Ecol. 22(3) 502-515): inputs are 40-55 % of
//    output in agri-food, goods and energy, 25-35 % in housing and digital services, about 25 % in
//    care; each sector buys most from itself and from goods and energy. Column sums 0.24-0.50.
//  - intensity: kg of raw material extracted directly per euro of gross output, from rounded
//    EU-27 domestic extraction (Eurostat material flow accounts, env_ac_mfa, roughly, about
//    2020: biomass 1.6 Gt, non-metallic minerals 2.9 Gt, fossil energy carriers 0.4 Gt, metal
//    ores 0.2 Gt) over
//    rounded EU-27 gross output of the sectors that extract them (agri-food 1.8, construction and
//    real estate 2.9, energy 1.1, manufacturing and mining 8 trillion euro). Services extract
//    almost nothing directly; their footprint comes through A.
// Calibrate or replace them with a proper aggregation before quantitative claims.
#include <Eigen/Dense>
#include <cstddef>
#include <string>
#include <vector>

namespace models::economy {

struct IoTable {
  std::vector<std::string> sectors;
  Eigen::MatrixXd A;          // technical coefficients, A(i, j) input of i per unit output of j
  Eigen::VectorXd intensity;  // material extracted per unit of gross output, per sector

  // food, housing, goods, digital services, care, energy (see the header comment).
  static IoTable standard();

  // Throws std::invalid_argument naming the problem (and the sector and value): sizes that do
  // not agree, a non-square A, entries that are negative or not finite, a column of A summing to
  // 1 or more (the sector is not productive: (I - A)^-1 would not be non-negative).
  void check() const;
};

class Throughput {
 public:
  explicit Throughput(IoTable table);  // checks the table

  // New technical coefficients (same sectors). The Leontief inverse is recomputed only when A
  // differs from the current one; the table is checked first and left unchanged when it fails.
  void set_coefficients(const Eigen::MatrixXd& A);

  // x = (I - A)^-1 y. y has one entry a sector (std::invalid_argument otherwise).
  Eigen::VectorXd gross_output(const Eigen::VectorXd& final_demand) const;

  // Materials extracted per sector: intensity .* x / efficiency, efficiency > 0 (1 = the table's
  // technology; 2 = half the material per unit of output).
  Eigen::VectorXd material(const Eigen::VectorXd& final_demand, double efficiency) const;

  const IoTable& table() const { return table_; }
  const Eigen::MatrixXd& leontief_inverse() const { return inverse_; }
  // How many times the Leontief inverse has been computed (1 after construction).
  std::size_t inversions() const { return inversions_; }

 private:
  void invert();

  IoTable table_;
  Eigen::MatrixXd inverse_;
  std::size_t inversions_ = 0;
};

}  // namespace models::economy
